"""``tvwizard fleet PATH...``: aggregate many nodes' JSON reports (see ``tvwizard.fleet``).

In a terminal (stdin and stdout TTYs, a real TERM) the summary opens in the fleet view;
with ``--plain`` or ``--json``, or without a terminal (a pipe, a batch job, cron), it is
printed as text or ``tvwizard.fleet/1`` JSON.  Textual is imported only for the view.
"""

from __future__ import annotations

import argparse
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from tvwizard.fleet import FleetSummary


def run_fleet(args: argparse.Namespace) -> int:
    """Show the fleet summary; exit 0 all healthy, 1 some broken or unreadable, 2 none readable."""
    from tvwizard.cli import has_terminal
    from tvwizard.fleet import aggregate, render_fleet_json, render_fleet_text

    summary = aggregate(args.paths)
    ascii = getattr(args, "ascii", False)
    interactive = not args.json and not getattr(args, "plain", False) and has_terminal()
    if interactive and (summary.hosts or summary.skipped):  # nothing at all: the text says so
        from tvwizard.tui import fleet_app

        return fleet_app.run_fleet_app(inert_summary(summary), ascii=ascii)
    if args.json:
        sys.stdout.write(render_fleet_json(summary))
    else:
        sys.stdout.write(render_fleet_text(summary, ascii=ascii))
    if not summary.hosts:
        where = ", ".join(args.paths)
        why = f"; {len(summary.skipped)} file(s) skipped, see above" if summary.skipped and not args.json else ""
        print(
            f"tvwizard: no readable report in {where}{why}. Write them with "
            "`tvwizard report --json -o DIR/{host}.json` on each node.",
            file=sys.stderr,
        )
    return summary.exit_code


def inert_summary(summary: FleetSummary) -> FleetSummary:
    """``summary`` with every string made inert (:mod:`tvwizard.inert`): what the view shows comes
    from report files and file names, and Textual passes an ``ESC`` through to the terminal."""
    from tvwizard.fleet import FleetSummary
    from tvwizard.inert import inert_tree

    return FleetSummary.from_dict(inert_tree(summary.to_dict()))
