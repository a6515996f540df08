#!/usr/bin/env python3
"""Formats bench/run.sh results as a table (default) or JSON (--json).

Input: a file of tab-separated lines written by bench/run.sh:
  latency RUNTIME MODE JSON        (JSON from bench/latency.py)
  micro RUNTIME METRIC VALUE UNIT  (a line of microbench output)
  unavailable RUNTIME REASON
Ratios are cost ratios, A/B > 1 meaning A is slower than B: times are divided
as they are, throughputs (MB/s) the other way round.
"""
import json
import sys

RUNTIMES = ["runc", "crun", "proot", "kbox"]
PAIRS = [("kbox", "runc"), ("kbox", "crun"), ("kbox", "proot"), ("proot", "runc"), ("crun", "runc")]
MODES = {"run": "run", "cycle": "create+start+delete"}


def load(path):
    data = {"unavailable": {}, "latency": {}, "micro": {}, "units": {}}
    with open(path) as f:
        for line in f:
            kind, rt, *rest = line.rstrip("\n").split("\t")
            if kind == "unavailable":
                data["unavailable"][rt] = rest[0]
            elif kind == "latency":
                data["latency"].setdefault(rest[0], {})[rt] = json.loads(rest[1])
            elif kind == "micro":
                metric, value, unit = rest
                data["micro"].setdefault(metric, {})[rt] = float(value)
                data["units"][metric] = unit
    return data


def cost_ratio(a, b, unit):
    if a is None or b is None or a == 0 or b == 0:
        return None
    return round(b / a if unit.endswith("/s") else a / b, 2)


def ratios(values, unit):
    out = {}
    for a, b in PAIRS:
        r = cost_ratio(values.get(a), values.get(b), unit)
        if r is not None:
            out["%s/%s" % (a, b)] = r
    return out


def as_json(d, runs_meta):
    out = {"runtimes": {}, "latency_ms": {}, "micro": {}}
    for rt in RUNTIMES:
        present = rt not in d["unavailable"]
        out["runtimes"][rt] = {"available": present}
        if not present:
            out["runtimes"][rt]["reason"] = d["unavailable"][rt]
    for mode, per in d["latency"].items():
        medians = {rt: v["median_ms"] for rt, v in per.items()}
        out["latency_ms"][mode] = {"results": per, "ratios": ratios(medians, "ms")}
    for metric, per in d["micro"].items():
        unit = d["units"][metric]
        out["micro"][metric] = {"unit": unit, "values": per, "ratios": ratios(per, unit)}
    out.update(runs_meta)
    return out


def fmt(v):
    if v is None:
        return "-"
    return "%.3g" % v if abs(v) < 100 else "%.0f" % v


def table(rows, head):
    widths = [max(len(str(r[i])) for r in [head] + rows) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(r) for r in rows])


def as_text(d):
    shown = [rt for rt in RUNTIMES if rt not in d["unavailable"]]
    pairs = ["%s/%s" % p for p in PAIRS if p[0] in shown and p[1] in shown]
    out = []
    for rt in RUNTIMES:
        if rt in d["unavailable"]:
            out.append("%s: unavailable: %s" % (rt, d["unavailable"][rt]))
    rows = []
    for mode, per in d["latency"].items():
        medians = {rt: v["median_ms"] for rt, v in per.items()}
        r = ratios(medians, "ms")
        rows.append([MODES.get(mode, mode), "ms"] + [fmt(medians.get(rt)) for rt in shown]
                    + [fmt(r.get(p)) for p in pairs])
    head = ["latency of `true` (median)", "unit"] + shown + pairs
    out += ["", table(rows, head)]
    rows = []
    for metric, per in d["micro"].items():
        unit = d["units"][metric]
        r = ratios(per, unit)
        rows.append([metric, unit] + [fmt(per.get(rt)) for rt in shown] + [fmt(r.get(p)) for p in pairs])
    head = ["in-container microbench", "unit"] + shown + pairs
    out += ["", table(rows, head), "",
            "ratios are costs: A/B > 1 means A is slower (for MB/s, B's throughput over A's)"]
    return "\n".join(out)


def main():
    args = sys.argv[1:]
    want_json = "--json" in args
    args = [a for a in args if a != "--json"]
    if len(args) < 1:
        sys.exit("usage: report.py RESULTS.tsv [--json] [KEY=VALUE...]")
    meta = dict(a.split("=", 1) for a in args[1:])
    for k in ("runs", "seconds_per_metric"):
        if k in meta:
            meta[k] = float(meta[k]) if "." in meta[k] else int(meta[k])
    d = load(args[0])
    print(json.dumps(as_json(d, meta), indent=2) if want_json else as_text(d))


if __name__ == "__main__":
    main()
