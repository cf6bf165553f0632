#!/usr/bin/env python3
"""Turns the JSON lines of one bench/compare.sh run into docs/bench/results.{md,json},
docs/bench/chart.svg and, when the run had rooms, docs/bench/room.svg (hand-written SVG, no
plotting library).

Usage: bench/report.py RESULTS.jsonl OUT_DIR
"""

import datetime
import json
import math
import os
import platform
import subprocess
import sys

BROKERS = ["stompbox", "activemq", "rabbitmq"]
NAMES = {"stompbox": "stompbox", "activemq": "ActiveMQ", "rabbitmq": "RabbitMQ", "tcp-relay": "TCP relay"}
COLORS = {"stompbox": "#2b7bba", "activemq": "#d95f02", "rabbitmq": "#7570b3", "tcp-relay": "#999999"}


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            mem = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    rustc = os.environ.get("RUSTC_VERSION", "")
    if not rustc:
        try:
            rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
        except OSError:
            rustc = "rustc ?"
    debian = ""
    try:
        with open("/etc/debian_version") as f:
            debian = "Debian " + f.read().strip()
    except OSError:
        pass
    load = os.environ.get("LOADAVG_START", "")
    load = f", load average at start {load}" if load else ""
    return f"{os.cpu_count()} cores ({cpu}), {mem}, Linux {platform.release()}, {debian}, {rustc}{load}"


def load(path):
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records


def find(records, broker, label):
    for r in records:
        if r.get("broker") == broker and r.get("label") == label and not r.get("failed"):
            return r
    return None


# (label in compare.sh, row title, value function, unit, higher is better)
ROWS = [
    ("fanout 1P-4S", "fan-out 1P→4S, 100 B: delivered msgs/s", lambda r: r["msgs_per_s"], "msgs/s", True),
    ("queue 2P-2C client-individual", "queue 2P→2C client-individual, 100 B: msgs/s", lambda r: r["msgs_per_s"], "msgs/s", True),
    ("persistent 2P-2C", "persistent queue 2P→2C, receipts: msgs/s", lambda r: r["msgs_per_s"], "msgs/s", True),
    ("latency 1k/s", "latency at 1,000 msgs/s: p99 µs", lambda r: r["latency_us"]["p99"], "µs", False),
    ("latency 10k/s", "latency at 10,000 msgs/s: p99 µs", lambda r: r["latency_us"]["p99"], "µs", False),
    ("latency 1k/s", "latency at 1,000 msgs/s: p50 µs", lambda r: r["latency_us"]["p50"], "µs", False),
    ("fanout 1P-4S", "fan-out (saturated): p99 µs", lambda r: r["latency_us"]["p99"], "µs", False),
    ("connections", "idle connections opened per second", lambda r: r["msgs_per_s"], "conn/s", True),
    ("connections", "broker RSS per idle connection, KiB", lambda r: r.get("rss_per_connection_kib"), "KiB", False),
]


# (label in compare.sh, row title, chart label) of the rooms: one publisher, 200-byte bodies.
ROOMS = [
    ("room 1000S 1k/s via tcp", "1,000 subscribers × 1,000 msgs/s, tcp", "1k × 1k/s tcp"),
    ("room 10000S 100/s via tcp", "10,000 subscribers × 100 msgs/s, tcp", "10k × 100/s tcp"),
    ("room 10000S 100/s via ws", "10,000 subscribers × 100 msgs/s, ws", "10k × 100/s ws"),
    ("room 10000S 100/s via wss", "10,000 subscribers × 100 msgs/s, wss", "10k × 100/s wss"),
]


def room_table(records):
    """The rooms, one row per broker and room: what it delivered, how late, at what cost."""
    out = ["\nRooms (one publisher at a fixed rate → one topic → N subscribers, 200 B; "
           "broker CPU is that of producing and draining, RSS per subscriber its growth while they "
           "subscribed):\n",
           "| room | broker | deliveries/s | p50 ms | p99 ms | p99.9 ms | broker CPU s per M deliveries "
           "| broker RSS KiB per subscriber | lost | errors |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for label, title, _ in ROOMS:
        for broker in BROKERS + ["tcp-relay"]:
            r = find(records, broker, label)
            if not r:
                continue
            lat = r["latency_us"]
            ms = lambda us: fmt(us / 1000)
            out.append(f"| {title} | {NAMES[broker]} | {fmt(r['msgs_per_s'])} | {ms(lat['p50'])} | {ms(lat['p99'])} "
                       f"| {ms(lat['p999'])} | {fmt(r.get('broker_cpu_seconds_per_million'))} "
                       f"| {fmt(r.get('rss_per_subscriber_kib'))} | {r['lost']:,} | {r['errors']} |")
    return out if len(out) > 3 else []


def fmt(value):
    if value is None:
        return "–"
    if value >= 100:
        return f"{value:,.0f}"
    if value < 1:
        return f"{value:.2f}"
    return f"{value:.1f}"


def ratio(stompbox, other, higher_better):
    if stompbox is None or other is None or stompbox <= 0 or other <= 0:
        return "–"
    r = stompbox / other if higher_better else other / stompbox
    return f"{r:.1f}×"


def markdown(records):
    versions = {r["broker"]: r["version"] for r in records if r.get("label") == "version"}
    out = []
    out.append(f"Run of {datetime.date.today().isoformat()} on {machine()}.\n")
    out.append("Brokers: " + "; ".join(f"{NAMES[b]}: {versions[b]}" for b in BROKERS if b in versions) + ".\n")
    out.append("Ratios say how many times better stompbox is (throughput: stompbox ÷ other; latency and "
               "memory: other ÷ stompbox). One run, one machine: read them as ratios, not absolutes.\n")
    out.append("| measure | stompbox | ActiveMQ | RabbitMQ | vs ActiveMQ | vs RabbitMQ |")
    out.append("|---|---:|---:|---:|---:|---:|")
    for label, title, value, _unit, higher in ROWS:
        vals = {}
        for b in BROKERS:
            r = find(records, b, label)
            try:
                vals[b] = value(r) if r else None
            except (KeyError, TypeError):
                vals[b] = None
        out.append(f"| {title} | {fmt(vals['stompbox'])} | {fmt(vals['activemq'])} | {fmt(vals['rabbitmq'])} "
                   f"| {ratio(vals['stompbox'], vals['activemq'], higher)} "
                   f"| {ratio(vals['stompbox'], vals['rabbitmq'], higher)} |")
    relay = find(records, "tcp-relay", "fanout 1P-4S")
    if relay:
        sb = find(records, "stompbox", "fanout 1P-4S")
        share = f" (stompbox reaches {100 * sb['msgs_per_s'] / relay['msgs_per_s']:.0f}% of it)" if sb else ""
        out.append(f"\nCeiling: a plain loopback TCP relay of 100-byte records, 1 writer → 4 readers, same load "
                   f"generator: {fmt(relay['msgs_per_s'])} records/s delivered{share}.\n")
    out.extend(room_table(records))
    out.append("\nEvery run, with loss, duplicates and errors:\n")
    out.append("| broker | scenario | sent | delivered | lost | dup | msgs/s | p50 µs | p99 µs | p99.9 µs | max µs | errors |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in records:
        if r.get("label") == "version":
            continue
        if r.get("failed"):
            out.append(f"| {NAMES.get(r['broker'], r['broker'])} | {r['label']} | failed | | | | | | | | | |")
            continue
        lat = r["latency_us"]
        errs = str(r["errors"])
        if r.get("error_messages"):
            errs += ": " + "; ".join(m.replace("|", "/") for m in r["error_messages"][:2])
        out.append(f"| {NAMES.get(r['broker'], r['broker'])} | {r['label']} | {r['sent']:,} | {r['delivered']:,} "
                   f"| {r['lost']:,} | {r['duplicated']:,} | {fmt(r['msgs_per_s'])} | {fmt(lat['p50'])} "
                   f"| {fmt(lat['p99'])} | {fmt(lat['p999'])} | {fmt(lat['max'])} | {errs} |")
    return "\n".join(out) + "\n"


def svg_panel(x0, y0, width, height, title, groups, unit):
    """Grouped bars on a log10 axis. groups: [(group label, [(series, value)])]."""
    parts = [f'<text x="{x0 + width / 2}" y="{y0 - 12}" text-anchor="middle" font-size="14" '
             f'font-weight="bold">{title}</text>']
    values = [v for _, series in groups for _, v in series if v and v > 0]
    if not values:
        return "\n".join(parts)
    lo = 10 ** math.floor(math.log10(min(values)))
    hi = 10 ** math.ceil(math.log10(max(values)))
    if hi <= lo:
        hi = lo * 10

    def y(v):
        return y0 + height - height * (math.log10(v) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    decade = lo
    while decade <= hi * 1.0001:
        yy = y(decade)
        parts.append(f'<line x1="{x0}" y1="{yy:.1f}" x2="{x0 + width}" y2="{yy:.1f}" stroke="#ddd"/>')
        label = f"{decade:,.0f}" if decade >= 1 else f"{decade:g}"
        parts.append(f'<text x="{x0 - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
        decade *= 10
    parts.append(f'<text x="{x0 - 52}" y="{y0 + height / 2}" font-size="11" '
                 f'transform="rotate(-90 {x0 - 52} {y0 + height / 2})" text-anchor="middle">{unit} (log scale)</text>')
    group_width = width / len(groups)
    for gi, (glabel, series) in enumerate(groups):
        bar = group_width * 0.8 / max(len(series), 1)
        for si, (name, v) in enumerate(series):
            bx = x0 + gi * group_width + group_width * 0.1 + si * bar
            if v and v > 0:
                top = y(v)
                parts.append(f'<rect x="{bx:.1f}" y="{top:.1f}" width="{bar - 2:.1f}" '
                             f'height="{y0 + height - top:.1f}" fill="{COLORS[name]}"/>')
                parts.append(f'<text x="{bx + bar / 2 - 1:.1f}" y="{top - 3:.1f}" font-size="9" '
                             f'text-anchor="middle">{fmt(v)}</text>')
        parts.append(f'<text x="{x0 + gi * group_width + group_width / 2:.1f}" y="{y0 + height + 16}" '
                     f'font-size="12" text-anchor="middle">{glabel}</text>')
    parts.append(f'<line x1="{x0}" y1="{y0 + height}" x2="{x0 + width}" y2="{y0 + height}" stroke="#333"/>')
    return "\n".join(parts)


def chart(records):
    def val(broker, label, f):
        r = find(records, broker, label)
        try:
            return f(r) if r else None
        except (KeyError, TypeError):
            return None

    rate = lambda r: r["msgs_per_s"]
    p99 = lambda r: r["latency_us"]["p99"]
    throughput = [
        ("fan-out 1P→4S", [(b, val(b, "fanout 1P-4S", rate)) for b in BROKERS]
         + [("tcp-relay", val("tcp-relay", "fanout 1P-4S", rate))]),
        ("queue 2P→2C", [(b, val(b, "queue 2P-2C client-individual", rate)) for b in BROKERS]),
        ("persistent 2P→2C", [(b, val(b, "persistent 2P-2C", rate)) for b in BROKERS]),
    ]
    latency = [
        ("p99 at 1k msgs/s", [(b, val(b, "latency 1k/s", p99)) for b in BROKERS]),
        ("p99 at 10k msgs/s", [(b, val(b, "latency 10k/s", p99)) for b in BROKERS]),
    ]
    w, h = 980, 430
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             f'font-family="sans-serif">', f'<rect width="{w}" height="{h}" fill="white"/>']
    parts.append(svg_panel(90, 50, 480, 300, "Throughput (delivered msgs/s, higher is better)", throughput, "msgs/s"))
    parts.append(svg_panel(680, 50, 270, 300, "p99 latency (µs, lower is better)", latency, "µs"))
    lx = 90
    for name in BROKERS + ["tcp-relay"]:
        parts.append(f'<rect x="{lx}" y="{h - 30}" width="12" height="12" fill="{COLORS[name]}"/>')
        parts.append(f'<text x="{lx + 16}" y="{h - 20}" font-size="12">{NAMES[name]}</text>')
        lx += 130
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def room_chart(records):
    """Deliveries per second, p99 latency and broker CPU per delivery of every room, by broker
    (and the relay)."""
    series = BROKERS + ["tcp-relay"]

    def groups(f):
        rows = []
        for label, _, short in ROOMS:
            values = [(b, f(find(records, b, label))) for b in series if find(records, b, label)]
            if values:
                rows.append((short, values))
        return rows

    rate = groups(lambda r: r["msgs_per_s"])
    p99 = groups(lambda r: r["latency_us"]["p99"] / 1000)
    cpu = groups(lambda r: r.get("broker_cpu_seconds_per_million"))
    if not rate:
        return None
    w, h = 1280, 430
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
             f'font-family="sans-serif">', f'<rect width="{w}" height="{h}" fill="white"/>']
    parts.append(svg_panel(90, 50, 340, 300, "Deliveries/s (higher is better)", rate, "deliveries/s"))
    parts.append(svg_panel(510, 50, 340, 300, "p99 latency (ms, lower is better)", p99, "ms"))
    parts.append(svg_panel(930, 50, 330, 300, "Broker CPU µs per delivery (lower is better)", cpu, "µs"))
    lx = 90
    for name in series:
        parts.append(f'<rect x="{lx}" y="{h - 30}" width="12" height="12" fill="{COLORS[name]}"/>')
        parts.append(f'<text x="{lx + 16}" y="{h - 20}" font-size="12">{NAMES[name]}</text>')
        lx += 130
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def main():
    records = load(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(markdown(records))
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"machine": machine(), "records": records}, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "chart.svg"), "w") as f:
        f.write(chart(records))
    rooms = room_chart(records)
    if rooms:
        with open(os.path.join(out, "room.svg"), "w") as f:
            f.write(rooms)


if __name__ == "__main__":
    main()
