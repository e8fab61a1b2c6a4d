#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checks that a program's --help, its man page and README.md's option table name the same options.

  optcheck.py HELP_TEXT MAN_TEXT README SECTION

HELP_TEXT is the output of --help; MAN_TEXT the page as man renders it (plain text); README the
README.md whose first table after the heading "## SECTION" lists the options, one row each, the
options in backquotes in the first column. An option is a short "-x" or a long "--name" (a bare
"--" is not one). Prints the options each source lacks and exits 1 if any does.
"""
import re
import sys

OPTION = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[A-Za-z?])(?![\w-])")


def from_help(text):
    """The option column of --help: lines that begin, after spaces, with a dash."""
    opts = set()
    for line in text.splitlines():
        m = re.match(r"^ {1,8}(-.*?)(?: {2,}|$)", line)
        if m:
            opts.update(OPTION.findall(m.group(1)))
    return opts


def from_man(text):
    """The tags of the OPTIONS section: the lines indented as much as a section's text."""
    opts = set()
    section = None
    for line in text.splitlines():
        if re.match(r"^[A-Z][A-Z ]+$", line):
            section = line.strip()
        elif section == "OPTIONS" and re.match(r"^ {7}-", line):
            # The tag is the leading words that begin with a dash; a short tag's text follows it.
            for word in line.split():
                if not word.startswith("-"):
                    break
                opts.update(OPTION.findall(word))
    return opts


def from_readme(text, heading):
    lines = text.splitlines()
    try:
        start = lines.index("## " + heading)
    except ValueError:
        sys.exit(f"optcheck: no heading '## {heading}' in the README")
    opts, in_table = set(), False
    for line in lines[start + 1:]:
        if line.startswith("## "):
            break
        if line.startswith("|"):
            in_table = True
            first = line.split("|")[1]
            for code in re.findall(r"`([^`]*)`", first):
                opts.update(OPTION.findall(code))
        elif in_table:
            break
    return opts


def main():
    if len(sys.argv) != 5:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    help_text, man_text, readme = (open(p).read() for p in sys.argv[1:4])
    sources = {
        "--help": from_help(help_text),
        "the man page": from_man(man_text),
        "README": from_readme(readme, sys.argv[4]),
    }
    every = set().union(*sources.values())
    bad = False
    for name, opts in sources.items():
        if not opts:
            print(f"{name}: no options found")
            bad = True
        elif every - opts:
            print(f"{name} lacks {' '.join(sorted(every - opts))}")
            bad = True
    if not bad:
        print(f"{len(every)} options, in all three: {' '.join(sorted(every))}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
