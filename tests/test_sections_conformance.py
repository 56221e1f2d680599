import pytest

from auditkit.sections import SECTIONS
from auditkit.testing import check_section, make_context


@pytest.mark.parametrize("name", SECTIONS.names())
def test_every_section_conforms(name):
    ctx = make_context(n=300, n_boot=20, options={"cv": 3})
    res = check_section(SECTIONS.get(name), ctx)
    assert res.status in ("ok", "skipped")


def test_every_default_section_is_registered():
    from auditkit.sections import SECTION_ORDER

    assert set(SECTION_ORDER) <= set(SECTIONS.names())
