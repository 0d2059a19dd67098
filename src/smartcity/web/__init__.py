"""The portal shell: templates, static files, CSRF, language, and shared page helpers."""
