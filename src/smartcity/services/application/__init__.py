"""Applying online (网上申报) for citizens and enterprises: drafts, 免提交 prefill from the
registries, materials, submission to the case engine, 补正, following an application and
好差评; and the application's panel on the staff case page.

- `access`: the actions (ACTIONS), `readable_applications` and `readable_materials`, and the
  lookups the others share (the applicant's own application and draft, its files, its case).
- `prefill`: 免提交, the applicant's registry record with each value's source department
  (一数一源), the form's fields and materials as it fills them, what is still missing, and
  the access-log row for what was used.
- `drafts`: starting a draft, answers checked by their field's type and saved (暂存),
  deleting a draft.
- `materials`: uploads checked by their first bytes and size and stored with their SHA-256,
  removing a draft's file, downloads.
- `submission`: submitting (提交申请): completeness, the case opened with what was used, and
  the 电子监察 hook flagging 应受理未受理.
- `progress`: the state in the case type's words, the working days left of the promise
  (承诺时限), the timeline in words.
- `following`: 我的申请, one application as its applicant sees it, 补正 and 好差评.
- `panel`: the application's panel on the staff case page.

`smartcity.services` imports `access` for the actions, and `submission` and `panel`: their
transition hook and case panel register when they are imported.
"""
