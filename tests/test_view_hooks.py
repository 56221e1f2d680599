"""Per-section view hooks and the one registry of chart kinds (issue 15).

The card's view knows no section's internals: a section's own parts come from the hook
registered under its name (the default for any other section), and every chart kind is looked
up in one registry, for its drawing and for its table alike.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from auditkit.report import render_html, render_markdown
from auditkit.report._charts import (
    CHART_KINDS,
    chart_numbers,
    register_chart_kind,
    render_chart,
)
from auditkit.report._view import build_view
from auditkit.report._views import (
    DEFAULT_VIEW,
    SECTION_VIEWS,
    SectionData,
    SectionView,
    register_section_view,
    section_view,
)
from auditkit.result.records import AuditResult, Chart, Finding, MetricValue, SectionResult

USER = "my_checks"


def _user_result(*charts: Chart) -> dict[str, Any]:
    """A result with one user-defined section: two figures (one per group) and its charts."""
    sec = SectionResult(
        USER, "ok",
        metrics=(
            MetricValue(USER, "thing", 0.5, n=10),
            MetricValue(USER, "thing", 0.4, feature=("sex",), group=("F",), n=5),
            MetricValue(USER, "per_class", 0.7, label="1", n=10),
        ),
        findings=(Finding(USER, "warn", "Thing is lowish."),),
        charts=charts,
    )  # fmt: skip
    return AuditResult("1.0", "0", "t", {}, {}, {}, (sec,)).to_dict()


def _section(view: Mapping[str, Any], name: str = USER) -> Mapping[str, Any]:
    return next(s for s in view["sections"] if s["name"] == name)


@pytest.fixture
def restore_registries() -> Iterator[None]:
    views, kinds = dict(SECTION_VIEWS), dict(CHART_KINDS)
    yield
    SECTION_VIEWS.clear()
    SECTION_VIEWS.update(views)
    CHART_KINDS.clear()
    CHART_KINDS.update(kinds)


# ------------------------------------------------------------------------- section hooks
def test_built_in_hooks_and_the_default() -> None:
    assert set(SECTION_VIEWS) == {"fairness", "explainability", "privacy", "drift"}
    for name in ("performance", "stability", USER, ""):
        assert section_view(name) is DEFAULT_VIEW
    assert type(DEFAULT_VIEW) is SectionView


def test_a_user_section_gets_the_default_view() -> None:
    bar = Chart("by_group", "bar", "By group", {"labels": ["F", "M"], "values": [0.4, 0.6]})
    curve = Chart("learning_curve_loss", "line", "Loss", {"series": []})
    s = _section(build_view(_user_result(bar, curve)))
    assert s["title"] == "My checks" and s["question"] == ""
    # every chart stays in the section (only privacy's learning curves move to Training)
    assert [c["name"] for c in s["charts"]] == ["by_group", "learning_curve_loss"]
    assert s["moved_charts"] == []
    # key figures: whole-population figures only (no group, no class)
    assert [k["label"] for k in s["key_figures"]] == ["Thing"]
    assert [f["text"] for f in s["findings"]] == ["Thing is lowish."]


def test_a_registered_hook_is_used(restore_registries: None) -> None:
    class MyView(SectionView):
        moved = {"hidden": "training"}

        def charts(self, section: SectionData) -> list[Mapping[str, Any]]:
            n = len(section.records)
            extra = {"name": "count", "kind": "bar", "title": "Records",
                     "data": {"labels": ["records"], "values": [n]}}  # fmt: skip
            return [*super().charts(section), extra]

        def is_key_figure(self, record: Mapping[str, Any]) -> bool:
            return record.get("name") == "per_class"

    hidden = Chart("hidden", "line", "Hidden curve", {"series": []})
    shown = Chart("shown", "bar", "Shown", {"labels": ["a"], "values": [1]})
    data = _user_result(hidden, shown)
    before = _section(build_view(data))
    register_section_view(USER, MyView())
    view = build_view(data)
    s = _section(view)
    assert [c["name"] for c in before["charts"]] == ["hidden", "shown"]
    assert [c["name"] for c in s["charts"]] == ["shown", "count"]
    assert s["charts"][1]["text"]["rows"] == [["records", "3"]]
    assert s["moved_charts"] == ["Hidden curve"]
    assert [c["title"] for c in view["training"]["charts"]] == ["Hidden curve"]
    assert [k["label"] for k in s["key_figures"]] == ["Per class (class 1)"]
    html = render_html(data)
    assert 'data-chart="count"' in html and html.count("<svg ") == 3


def test_register_section_view_checks_its_arguments() -> None:
    with pytest.raises(TypeError, match="SectionView"):
        register_section_view(USER, object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        register_section_view("", SectionView())


def test_privacy_learning_curves_are_drawn_under_training() -> None:
    curve = Chart("learning_curve_loss", "line", "Learning curves (loss)",
                  {"series": [{"name": "train", "x": [1, 2], "y": [0.9, 0.5]}]})  # fmt: skip
    sec = SectionResult("privacy", "ok", charts=(curve,))
    view = build_view(AuditResult("1.0", "0", "t", {}, {}, {}, (sec,)).to_dict())
    priv = _section(view, "privacy")
    assert priv["charts"] == [] and priv["moved_charts"] == ["Learning curves (loss)"]
    assert [c["name"] for c in view["training"]["charts"]] == ["learning_curve_loss"]


def test_explainability_randomization_check_is_a_key_figure_per_class() -> None:
    recs = tuple(
        MetricValue("explainability", name, 0.1 + k / 10, label=str(k), n=50)
        for k in range(2)
        for name in ("randomization_rank_correlation", "mean_abs_attribution")
    )
    for section in ("explainability", USER):
        mine = tuple(MetricValue(section, m.name, m.value, label=m.label, n=m.n) for m in recs)
        sec = SectionResult(section, "ok", metrics=mine)
        view = build_view(AuditResult("1.0", "0", "t", {}, {}, {}, (sec,)).to_dict())
        labels = [k["label"] for k in _section(view, section)["key_figures"]]
        want = 2 if section == "explainability" else 0  # only the hook knows the metric
        assert len(labels) == want and all("class" in x for x in labels)


# ----------------------------------------------------------------------------- chart kinds
def test_one_registry_draws_and_tabulates_every_kind() -> None:
    assert set(CHART_KINDS) == {
        "bar", "line", "heatmap", "images", "tokens", "predicted_actual", "histogram"
    }  # fmt: skip
    from auditkit.report import _svg

    assert _svg.CHART_KINDS is CHART_KINDS and _svg.render_chart is render_chart


def test_an_unknown_chart_kind_gives_a_note_in_both_cards() -> None:
    chart = {"name": "s", "kind": "spiral", "title": "A spiral", "data": {"x": [1]}}
    drawn = str(render_chart(chart, uid="c1"))
    assert drawn == (
        '<p class="chart-error">This version of auditkit cannot draw charts of kind spiral; '
        "the data is in audit.json.</p>"
    )
    note = "Charts of kind 'spiral' are not drawn by this version; the data is in audit.json."
    assert chart_numbers(chart) == {"columns": [], "rows": [], "note": note}
    data = _user_result(Chart("s", "spiral", "A spiral", {"x": [1]}))
    assert "cannot draw charts of kind spiral" in render_html(data)
    md = render_markdown(data)
    assert "Chart: A spiral" in md and "Charts of kind 'spiral' are not drawn" in md


def test_malformed_data_of_a_known_kind_gives_a_note() -> None:
    chart = {"kind": "bar", "title": "t", "data": {"labels": ["a"], "values": [1, 2]}}
    assert "Chart could not be drawn: 1 labels but 2 values" in str(render_chart(chart, uid="c1"))
    bad = {"kind": "tokens", "title": "t", "data": {"rows": [1]}}
    assert chart_numbers(bad)["note"] == "The chart data does not follow its kind's layout."
    assert chart_numbers({"kind": "bar", "data": None})["rows"] == []


def test_a_new_chart_kind_is_one_registered_function(restore_registries: None) -> None:
    def draw(chart: Mapping[str, Any], uid: str) -> str:
        return f'<svg id="{uid}"><title>{len(chart["data"]["x"])} points</title></svg>'

    data = _user_result(Chart("s", "spiral", "A spiral", {"x": [1, 2]}))
    register_chart_kind("spiral", draw)
    html = render_html(data)
    assert '<svg id="chart1"><title>2 points</title></svg>' in html
    assert "cannot draw" not in html
    assert "The chart is drawn in card.html; its data is in audit.json." in render_markdown(data)

    def numbers(d: Mapping[str, Any]) -> tuple[list[str], list[list[str]], str]:
        return ["x"], [[str(v)] for v in d["x"]], "Points of the spiral."

    register_chart_kind("spiral", draw, numbers)
    md = render_markdown(data)
    assert "| x |" in md and "Points of the spiral." in md


def test_register_chart_kind_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="kind"):
        register_chart_kind("", lambda c, u: "")
    with pytest.raises(TypeError, match="callable"):
        register_chart_kind("x", "not a function")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------ the view
def test_the_view_carries_only_keys_the_templates_read() -> None:
    view = build_view(_user_result(Chart("c", "bar", "C", {"labels": ["a"], "values": [1]})))
    assert set(view) == {
        "title", "tool_version", "facts", "fact", "details", "ci_head", "summary", "sections",
        "training", "policy", "about", "crosswalk", "glossary", "metric_glossary", "provenance",
    }  # fmt: skip
    (chart,) = _section(view)["charts"]
    assert set(chart) == {"name", "title", "description", "drawing", "text"}
    assert "collapsed" not in _section(view)["metric_tables"][0]
