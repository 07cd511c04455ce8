#!/usr/bin/env python3
"""Prints "<passed> <failed>" from a TRX file (the test runner's own summary line is not CI's format)."""
import sys
import xml.etree.ElementTree as ET

ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
counters = ET.parse(sys.argv[1]).getroot().find("t:ResultSummary/t:Counters", ns)
if counters is None:
    sys.exit("no counters in " + sys.argv[1])
passed = int(counters.get("passed", 0))
failed = int(counters.get("failed", 0)) + int(counters.get("error", 0)) + int(counters.get("timeout", 0)) + int(counters.get("aborted", 0))
print(passed, failed)
