"""A policy verdict as JUnit XML, for CI systems that show test reports."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from .verdict import PolicyVerdict

__all__ = ["junit_xml"]

_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(text: str) -> str:
    """Replace control and bidirectional characters (and what XML 1.0 cannot hold) with escapes.

    A CI page showing the report must not let a rule id or a group name reorder its text.
    """
    from .._core.text import visible

    return _XML_INVALID.sub(lambda m: f"\\x{ord(m.group()):02x}", visible(text))


def junit_xml(verdict: PolicyVerdict, *, suite_name: str = "auditkit policy") -> str:
    """Return the verdict as JUnit XML: one test case per rule, a ``<failure>`` per failed rule.

    A failed rule of severity ``"warning"`` is a passing test case with the message in
    ``<system-out>``, so CI shows it without failing the build.

    Parameters
    ----------
    verdict : PolicyVerdict
        The output of :func:`check`.
    suite_name : str, default="auditkit policy"
        The name of the test suite.

    Returns
    -------
    str
        An XML document (``<testsuites><testsuite><testcase>...``), UTF-8 declared.
    """
    errors = [c for c in verdict.failed if c.severity == "error"]
    name = _xml_safe(suite_name)
    suite = ET.Element(
        "testsuite",
        {"name": name, "tests": str(len(verdict.checks)), "failures": str(len(errors)),
         "errors": "0", "skipped": "0"},
    )  # fmt: skip
    for c in verdict.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": _xml_safe(f"auditkit.policy.{c.metric_id}"), "name": _xml_safe(c.id)},
        )
        if not c.passed and c.severity == "error":
            message = _xml_safe(c.message)
            fail = ET.SubElement(case, "failure", {"message": message, "type": "PolicyFailure"})
            fail.text = message
        else:
            out = ET.SubElement(case, "system-out")
            out.text = ("WARNING: " if not c.passed else "") + _xml_safe(c.message)
    root = ET.Element("testsuites", {"name": name, "tests": str(len(verdict.checks)),
                                     "failures": str(len(errors))})  # fmt: skip
    root.append(suite)
    ET.indent(root)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    )
