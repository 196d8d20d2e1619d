"""``tvwizard fleet PATH...``: aggregate many nodes' JSON reports (see ``tvwizard.fleet``)."""

from __future__ import annotations

import argparse
import sys


def run_fleet(args: argparse.Namespace) -> int:
    """Print the fleet summary (text or ``tvwizard.fleet/1`` JSON); exit 0 healthy, 1 broken, 2 none readable."""
    from tvwizard.fleet import aggregate, render_fleet_json, render_fleet_text

    summary = aggregate(args.paths)
    if args.json:
        sys.stdout.write(render_fleet_json(summary))
    else:
        sys.stdout.write(render_fleet_text(summary, ascii=getattr(args, "ascii", False)))
    if not summary.hosts:
        where = ", ".join(args.paths)
        why = f"; {len(summary.skipped)} file(s) skipped, see above" if summary.skipped and not args.json else ""
        print(
            f"tvwizard: no readable report in {where}{why}. Write them with "
            "`tvwizard report --json -o DIR/{host}.json` on each node.",
            file=sys.stderr,
        )
    return summary.exit_code
