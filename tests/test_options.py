#!/usr/bin/env python3
"""README's option table against `xvipd --help`, which prints xvipd's option
table (user/xvipd.c, through user/opts.c). What must agree, and is checked:
the same options in both (--help itself is not in README's table), the same
argument form for each (`--frr connected|vtysh|off`), and every default the
help text names ("default 120", "info (default)") appears in README's row.
The meaning texts differ on purpose: README's explain more. The options in
README's example command lines must exist too (xvipd's and xvip-pktgen's).
Prints PASS/FAIL/SKIP lines like every suite.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
README = os.path.join(ROOT, "README.md")

results = []


def test(fn):
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
        return cond
    try:
        fn(check)
    except Exception as e:  # a crash is a failure of that test, with its reason
        failures.append("%s: %s" % (type(e).__name__, e))
    for f in failures:
        print("  %s: %s" % (fn.__name__, f), file=sys.stderr)
    print("%s %s" % ("FAIL" if failures else "PASS", fn.__name__))
    results.append(not failures)


def help_text(prog):
    path = os.path.join(BUILD, prog)
    if not os.access(path, os.X_OK):
        raise AssertionError("%s is not built (make)" % path)
    r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        raise AssertionError("%s --help exited %d" % (prog, r.returncode))
    return r.stdout


def help_options(text):
    """{"--name": (arg or None, help text)} from the option lines of --help."""
    opts, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^  (?:-\w, )?(--[\w-]+)(?: (\S+))?(?:\s+(.*))?$", line)
        if m:
            cur = m.group(1)
            opts[cur] = [m.group(2), m.group(3) or ""]
        elif cur and re.match(r"^ {8,}\S", line):
            opts[cur][1] += " " + line.strip()
        else:
            cur = None
    return {k: (v[0], v[1]) for k, v in opts.items()}


def readme_section(text, title):
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text, re.M | re.S)
    if not m:
        raise AssertionError("README has no section %r" % title)
    return m.group(1)


def readme_options(section):
    """{"--name": (arg or None, meaning)} from the | option | meaning | table."""
    opts = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([^`]*)` \| (.*) \|$", line)
        if not m:
            continue
        cell = m.group(1).replace("\\|", "|")
        meaning = m.group(2).replace("\\|", "|")
        words = cell.split()
        if words and words[0] == "xvipd":  # "xvipd --cleanup [--pin-dir DIR] ...": a mode
            words = words[1:2]
        if words and words[0].startswith("--"):
            opts[words[0]] = (words[1] if len(words) > 1 else None, meaning)
    return opts


def defaults(helptext):
    """The defaults a help text states: "default 120", "(default: off)", "info (default)"."""
    found = re.findall(r"\bdefault:? ([^\s,;()]+)", helptext)
    found += re.findall(r"(\S+) \(default\)", helptext)
    return [d.rstrip(".:") for d in found]


def compare(readme, helped):
    problems = []
    for name in sorted(set(readme) | set(helped)):
        if name == "--help":
            continue
        if name not in helped:
            problems.append("%s is in README's table, not in --help" % name)
            continue
        if name not in readme:
            problems.append("%s is in --help, not in README's table" % name)
            continue
        if readme[name][0] != helped[name][0]:
            problems.append("%s: argument %r in README, %r in --help" %
                            (name, readme[name][0], helped[name][0]))
        row = readme[name][1].replace("`", "")
        for d in defaults(helped[name][1]):
            if d not in row:
                problems.append("%s: --help says default %s, README's row does not" % (name, d))
    return problems


def test_readme_table_is_xvipd_help(check):
    helped = help_options(help_text("xvipd"))
    readme = readme_options(readme_section(open(README).read(), "Running xvipd"))
    # Both parsers found the table, or an empty comparison would pass.
    check(len(helped) >= 20, "--help lists %d options" % len(helped))
    check(len(readme) >= 20, "README's table lists %d options" % len(readme))
    check("--help" in helped, "--help lists --help")
    for p in compare(readme, helped):
        check(False, p)


def test_comparison_catches_drift(check):
    """Controls: a renamed argument, a changed default, a missing row are each found."""
    helped = help_options(help_text("xvipd"))
    readme = readme_options(readme_section(open(README).read(), "Running xvipd"))
    bad = dict(readme)
    bad["--watch-timeout"] = ("SECS", readme["--watch-timeout"][1])
    check(any("--watch-timeout: argument" in p for p in compare(bad, helped)), "argument form")
    bad = dict(readme)
    bad["--ct-size"] = (readme["--ct-size"][0], readme["--ct-size"][1].replace("1048576", "1M"))
    check(any("--ct-size: --help says default 1048576" in p for p in compare(bad, helped)),
          "default")
    bad = dict(readme)
    del bad["--frr-vtysh"]
    check(any("--frr-vtysh is in --help" in p for p in compare(bad, helped)), "missing row")


def test_readme_examples_use_real_options(check):
    text = open(README).read()
    blocks = re.findall(r"^```\n(.*?)^```", text, re.M | re.S)
    for prog in ("xvipd", "xvip-pktgen"):
        helped = help_options(help_text(prog))
        lines = [b for b in blocks if re.search(r"(^|/|\s)%s\s" % re.escape(prog), b)]
        check(lines, "README shows %s command lines" % prog)
        for b in lines:
            cmd = b.replace("\\\n", " ")
            for line in cmd.splitlines():
                if not re.search(r"(^|/|\s)%s\s" % re.escape(prog), line):
                    continue
                for opt in re.findall(r"(?<![\w-])(--[a-z][\w-]*)", line):
                    check(opt in helped, "%s: %s in README's example is not an option" %
                          (prog, opt))


for t in (test_readme_table_is_xvipd_help, test_comparison_catches_drift,
          test_readme_examples_use_real_options):
    test(t)
sys.exit(0 if all(results) else 1)
