"""``tvwizard --help``, pre-rendered (see :mod:`tvwizard.cli`).  Regenerate:
``python -m tvwizard.cli._help`` (rewrites this file from the parser, at 80 columns).
"""

HELP = """\
usage: tvwizard [-h] [--version] [--python PATH] [--timeout SECONDS]
                COMMAND ...

Find out why `import torchvision` fails, and get back to work.

With no command, opens the wizard in a terminal (or runs `check` when there is no
terminal). tvwizard never imports torch or torchvision itself: every probe runs in a
subprocess of the target Python, the active virtualenv/conda env or python3 on PATH
unless --python says otherwise.

positional arguments:
  COMMAND
    check            run every probe and print a checklist (no TTY needed)
    fix              show the fix plan; --apply runs it after confirmation
    report           write a shareable report (Markdown, JSON or HTML),
                     redacted
    explain          read a pasted traceback or log, classify it, run only the
                     probes that can confirm it
    compare          show what differs between two JSON reports
    fleet            aggregate many nodes' JSON reports: who is broken, why,
                     and the fix

options:
  -h, --help         show this help message and exit
  --version          show program's version number and exit
  --python PATH      the interpreter (or env folder) to diagnose
  --timeout SECONDS  time limit for the import probe and for your --import /
                     -- COMMAND (default 180 s); the other steps scale with it
                     (README: Limits)

exit codes: 0 torchvision works, 1 problems found, 2 bad usage or unusable target,
  128+N stopped by signal N (SIGTERM 143, SIGHUP 129, Ctrl-C 130): probes are ended
examples:
  tvwizard                         the wizard
  tvwizard check -v                checklist with every detail
  tvwizard check --json            the whole result as JSON (schema tvwizard.report/1)
  tvwizard --python ~/venvs/ml/bin/python check
  tvwizard fix --apply             apply a fix after confirmation, then check again
  tvwizard check --import basicsr  also import your module, after the standard probes
  tvwizard check -- python train.py   also run your command (only when given after --)
  tvwizard explain error.txt       classify a pasted traceback (or - for stdin)
  tvwizard report -o report.md     a redacted report for a bug ticket
  tvwizard fleet /shared/reports   aggregate nodes' `report --json -o DIR/{host}.json`
environment:
  NO_COLOR              no colours
  TVWIZARD_THEME        the wizard's Textual theme
  TVWIZARD_NVML         the NVML library to read GPUs from (default: libnvidia-ml.so.1)
  TVWIZARD_NVIDIA_SMI   the nvidia-smi to fall back to (default: the first on PATH)
"""

if __name__ == "__main__":
    import os
    import pathlib

    os.environ["COLUMNS"] = "80"
    from tvwizard.cli import build_parser

    path = pathlib.Path(__file__)
    text = path.read_text()
    head, _, _ = text.partition("\nHELP = ")
    rest = text[text.index('\nif __name__ == "__main__":') :]
    help_text = build_parser().format_help()
    literal = help_text.replace("\\", "\\\\").replace('"""', '\\"""')
    path.write_text(head + '\nHELP = """\\\n' + literal + '"""\n' + rest)
