"""The page-language checker itself: what it must catch and what it must let be."""

from __future__ import annotations

from tests.e2e.language import check_en, check_zh


class TestCheckZh:
    def test_catches_a_framework_phrase(self) -> None:
        assert check_zh("页面不存在\nNot Found") == ["Not Found"]

    def test_catches_english_inside_a_chinese_sentence(self) -> None:
        found = check_zh("此页面仅供 This is for admin, staff 使用")
        assert found == ["This is for admin, staff"]

    def test_catches_raw_keys_and_user_names(self) -> None:
        assert check_zh("设备编号 deviceCode：A-1") == ["deviceCode"]
        assert check_zh("经办：cli:root") == ["cli:root"]
        assert check_zh("模拟 simulated True") == ["simulated True"]
        assert check_zh("2026年 Dec 7, 2026") == ["Dec"]

    def test_lets_codes_ids_units_links_and_acronyms_be(self) -> None:
        text = (
            "受理编号 SZ-2026-00017 · PM2.5 35 μg/m³ · AQI 78 · 14:05 · API 文档\n"
            "https://example.org/x 联系 ops@example.org · cases.case.assign · /sta/v1.1 · 3 km"
        )
        assert check_zh(text) == []

    def test_an_id_prefix_of_hex_letters_only_is_a_code(self) -> None:
        # A record's id prefix is random: now and then it has no digit ("ecdbcbcb").
        assert check_zh("人口 · ecdbcbcb 出生日期不合理") == []
        assert check_zh("人口 · checked 出生日期不合理") == ["checked"]

    def test_names_and_code_elements_are_allowed(self) -> None:
        text = "属性 pipeDiameter 0.3\n中文 · English"
        assert check_zh(text, names=["pipeDiameter", "English"]) == []
        assert check_zh(text, names=["English"]) == ["pipeDiameter"]


class TestCheckEn:
    def test_catches_chinese_outside_a_marked_name(self) -> None:
        assert check_en("Department: 公安局") == ["公安局"]

    def test_a_marked_name_is_allowed(self) -> None:
        assert check_en("Department: 公安局 · 中文 · English", names=["公安局", "中文"]) == []

    def test_chinese_punctuation_counts(self) -> None:
        assert check_en("Due 17 Dec 2026（2 working days）") == ["（", "）"]

    def test_english_page_text_passes(self) -> None:
        assert check_en("Applications · 7 Dec 2026, 14:05 · PM2.5 35 μg/m³") == []
