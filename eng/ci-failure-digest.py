"""Prints what failed, for the last lines of a CI log: the failed tests of a TRX file with the first lines of their
messages, and the names of the other checks that failed. A CI system that keeps only the tail of the log then still
says which test broke and why.
    python3 eng/ci-failure-digest.py <tests.trx or ""> [failed check name ...]
"""
import sys
import xml.etree.ElementTree as ET

NS = "{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}"
MESSAGE_LINES = 6


def failed_tests(trx):
    root = ET.parse(trx).getroot()
    for result in root.iter(NS + "UnitTestResult"):
        if result.get("outcome") != "Failed":
            continue
        message = result.findtext(f"{NS}Output/{NS}ErrorInfo/{NS}Message") or "(no message)"
        yield result.get("testName"), result.get("duration"), message.strip().splitlines()[:MESSAGE_LINES]


def main(argv):
    trx, checks = (argv[1] if len(argv) > 1 else ""), argv[2:]
    lines = []
    if trx:
        try:
            for name, duration, message in failed_tests(trx):
                lines.append(f"failed test: {name} ({duration})")
                lines.extend("    " + line[:400] for line in message)
        except (OSError, ET.ParseError) as e:
            lines.append(f"could not read the test results {trx}: {e}")
    lines.extend(f"failed check: {check}" for check in checks)
    if lines:
        print("== what failed")
        print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv)
