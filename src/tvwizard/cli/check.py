"""``tvwizard check``: every probe, a checklist, the right exit code."""

from __future__ import annotations

import argparse
import json
import sys

# What printing the checklist needs: loaded while the import probe runs (see common.preload).
_OUTPUT_MODULES = ("rich.console", "rich.markup", "tvwizard.cli.checklist")


def run_check(args: argparse.Namespace) -> int:
    from tvwizard.cli.common import diagnose_with_progress, resolve_or_exit

    target = resolve_or_exit(args)
    report = diagnose_with_progress(target, args, warm=_OUTPUT_MODULES) if not args.json else _quiet(target, args)
    if args.json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        return report.exit_code
    from rich.console import Console

    from tvwizard.cli.checklist import AsciiFile, can_draw_unicode, render_checklist

    # On a terminal rich wraps to its width; in a pipe or a file, lines stay whole.
    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    ascii_only = args.ascii or not can_draw_unicode(console)
    if ascii_only:
        console = Console(file=AsciiFile(sys.stdout), highlight=False, soft_wrap=not sys.stdout.isatty())
    render_checklist(report, console, verbose=args.verbose, ascii_only=ascii_only)
    if args.verbose:
        _print_probe_details(report, console)
        _print_gpu_details(report, console)
    return report.exit_code


def _quiet(target, args):
    from tvwizard.cli.common import diagnose_target

    return diagnose_target(target, args)


def _print_probe_details(report, console) -> None:
    from rich.markup import escape

    console.print()
    console.print("[bold]Probes[/]")
    for p in report.probes:
        console.print(
            f"  {p.name:<14} {p.status!s:<8} {p.duration * 1000:7.0f} ms  started at +{p.started:.2f} s"
            + (f"  {escape(p.error)}" if p.error else ""),
            highlight=False,
        )
        if p.fault.strip():
            console.print("    [dim]faulthandler:[/]")
            for line in p.fault.strip().splitlines()[:40]:
                console.print(f"      [dim]{escape(line)}[/]", highlight=False)
        tail = [line for line in p.log if line.stream != "probe"][-15:]
        if tail:
            console.print(f"    [dim]last {len(tail)} log lines:[/]")
            for line in tail:
                console.print(f"      [dim]{line.stream}: {escape(line.text)}[/]", highlight=False, soft_wrap=True)


def _print_gpu_details(report, console) -> None:
    """``-v``: what tvwizard read of the driver and each GPU, and how (NVML, nvidia-smi)."""
    from rich.markup import escape

    from tvwizard.report.facts import summarize_facts

    if not isinstance(report.system, dict) or not isinstance(report.system.get("gpu"), dict):
        return
    gpu = summarize_facts(report.to_dict(), ("gpu",))["gpu"]  # the one reader of system.gpu's shape
    console.print()
    console.print("[bold]GPU[/] [dim](read by tvwizard itself, without torch)[/]")
    line = f"  state {gpu['state']}"
    if gpu["source"]:
        line += f" (from {gpu['source']})"
    if gpu["driver"]:
        line += f", driver {gpu['driver']}"
    if gpu["cuda"]:
        line += f", supports CUDA up to {gpu['cuda']}"
    console.print(escape(line), highlight=False)
    if gpu["visibility"]:
        console.print(escape(f"  {gpu['visibility']}"), highlight=False)
    for g in gpu["gpus"]:
        bits = [
            f"GPU {g['index']}: {g['name'] or '?'}",
            f"compute capability {g['capability'] or '?'}",
            g["memory"],
            (f"MIG {g['mig']}" + (f" ({g['mig_instances']} instance(s))" if g["mig_instances"] is not None else ""))
            if g["mig"]
            else None,
            {True: f"cuda:{g['cuda_index']}", False: "hidden by CUDA_VISIBLE_DEVICES"}.get(g["visible"]),
        ]
        console.print("    " + escape(", ".join(b for b in bits if b)), highlight=False)
        for field, error in g["errors"].items():
            console.print(f"      [dim]{escape(field)}: {escape(error)}[/]", highlight=False)
    if gpu["nodes"]:
        nodes = ", ".join(f"{n} {state}" for n, state in gpu["nodes"].items())
        module = gpu["kernel_module"] or "not loaded (or not visible here)"
        console.print(escape(f"  kernel module {module}; {nodes}"), highlight=False)
    for a in gpu["attempts"]:
        text = f"  tried {a['source']}: {a['state'] or '?'} in {(a['duration'] or 0) * 1000:.0f} ms"
        if a["where"]:
            text += f" ({a['where']})"
        if a["error"]:
            text += f": {a['error']}"
        console.print(f"[dim]{escape(text)}[/]", highlight=False)
