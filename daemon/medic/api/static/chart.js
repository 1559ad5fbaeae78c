// The measured field over an incident, drawn as inline SVG (no library): a line through
// the values the audit recorded, and a marker where the incident fired, acted and
// verified. The SVG scales with its box (viewBox), so it fits a phone as well.
"use strict";

const NS = "http://www.w3.org/2000/svg";
// Drawn at the box's own width (so text keeps its size on a phone), 640 by default.
let W = 640;
let H = 220;
const PAD = { left: 52, right: 14, top: 22, bottom: 30 };
const LABELS = { fired: "fired", acted: "acted", verified: "verified" };

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

// Round numbers for the y axis: 3 to 5 ticks covering [lo, hi].
function ticks(lo, hi) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / 4;
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= 5);
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) {
    out.push(Math.round(v / step) * step);
  }
  return out;
}

function label(value) {
  const a = Math.abs(value);
  if (a >= 1e6) return (value / 1e6).toFixed(1) + "M";
  if (a >= 1e4) return (value / 1e3).toFixed(0) + "k";
  return String(Math.round(value * 100) / 100);
}

function clock(t) {
  return new Date(t * 1000).toISOString().slice(11, 19);
}

// points: [[t, v], ...]; markers: [{time, mark, kind}]; returns an <svg> element.
export function lineChart(field, points, markers, options = {}) {
  W = Math.max(280, Math.round(options.width || 640));
  H = W < 500 ? 200 : 220;
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    class: "chart",
    role: "img",
    "data-testid": "chart-svg",
    preserveAspectRatio: "xMidYMid meet",
  });
  root.append(svg("title", {}, `${field} over the incident`));
  const times = points.map((p) => p[0]).concat(markers.map((m) => m.time));
  let t0 = Math.min(...times);
  let t1 = Math.max(...times);
  if (options.start !== undefined) t0 = Math.min(t0, options.start);
  if (t1 - t0 < 1) {
    t0 -= 1;
    t1 += 1;
  }
  const values = points.map((p) => p[1]);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (options.boolean) {
    lo = 0;
    hi = 1;
  } else {
    const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
    lo = lo >= 0 && lo - pad < 0 ? 0 : lo - pad;
    hi += pad;
  }
  const x = (t) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - lo) / (hi - lo || 1)) * (H - PAD.top - PAD.bottom);

  const axis = svg("g", { class: "axis" });
  const yTicks = options.boolean ? [0, 1] : ticks(lo, hi);
  for (const v of yTicks) {
    axis.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }));
    const text = options.boolean ? (v ? "true" : "false") : label(v);
    axis.append(svg("text", { x: PAD.left - 6, y: y(v) + 4, "text-anchor": "end" }, text));
  }
  axis.append(svg("text", { x: PAD.left, y: H - 8, "text-anchor": "start" }, clock(t0)));
  axis.append(svg("text", { x: W - PAD.right, y: H - 8, "text-anchor": "end" }, clock(t1)));
  root.append(axis);

  const marks = svg("g", { class: "markers" });
  markers.forEach((m, i) => {
    const mx = x(m.time);
    const g = svg("g", { class: "marker marker-" + m.mark, "data-mark": m.mark, "data-kind": m.kind });
    g.append(svg("title", {}, `${m.kind} at ${clock(m.time)}`));
    g.append(svg("line", { x1: mx, x2: mx, y1: PAD.top - 4, y2: H - PAD.bottom }));
    // Stagger labels of markers that sit close together.
    // Near the right edge the label goes left of its line, so it is not cut off.
    const right = mx > W - PAD.right - 56;
    g.append(svg("text", {
      x: right ? mx - 3 : mx + 3,
      y: PAD.top - 8 + (i % 2) * 11,
      "text-anchor": right ? "end" : "start",
    }, LABELS[m.mark] || m.mark));
    marks.append(g);
  });
  root.append(marks);

  if (points.length > 0) {
    const path = points
      .map((p, i) => {
        const px = x(p[0]).toFixed(1);
        const py = y(p[1]).toFixed(1);
        if (i === 0) return `M${px},${py}`;
        // A boolean is a state: it holds until the next reading (a step), a number is not.
        return options.boolean ? `H${px}V${py}` : `L${px},${py}`;
      })
      .join(" ");
    root.append(svg("path", { d: path, class: "line", "data-testid": "chart-line" }));
    const dots = svg("g", { class: "points" });
    for (const [t, v] of points) {
      const dot = svg("circle", { cx: x(t), cy: y(v), r: 3.5 });
      dot.append(svg("title", {}, `${field} = ${options.boolean ? Boolean(v) : v} at ${clock(t)}`));
      dots.append(dot);
    }
    root.append(dots);
  }
  return root;
}
