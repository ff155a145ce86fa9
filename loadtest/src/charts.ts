/** Line charts as plain SVG: the HTML report inlines them, and sharp turns them into the PNG. */

export interface Series {
  name: string;
  points: [number, number][];
  color?: string;
  dashed?: boolean;
  /** Draw dots at the points (for sparse series, e.g. 10-second windows). */
  dots?: boolean;
}

export interface ChartSpec {
  title: string;
  yLabel: string;
  series: Series[];
  width?: number;
  height?: number;
  xMax?: number;
  yMax?: number;
  /** Vertical markers, e.g. the moment a backend was killed. */
  markers?: { x: number; label: string }[];
  /** Horizontal lines, e.g. a threshold. */
  limits?: { y: number; label: string }[];
}

export const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
  '#393b79',
  '#ad494a',
  '#637939',
  '#843c39',
];

export function escapeXml(text: string) {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 × 10^n steps giving about `target` ticks up to `max`. */
export function niceStep(max: number, target = 5) {
  if (!(max > 0)) return 1;
  const raw = max / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
}

const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : String(Math.round(v * 100) / 100));

export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 760;
  const height = spec.height ?? 300;
  // As many legend columns (up to 3) as the longest name allows.
  const longest = Math.max(1, ...spec.series.map((s) => s.name.length));
  const legendColumns = Math.max(1, Math.min(3, Math.floor((width - 74) / (longest * 6.6 + 30))));
  const legendRows = Math.ceil(spec.series.length / legendColumns);
  const m = { left: 58, right: 16, top: 34, bottom: 50 + legendRows * 16 };
  const w = width - m.left - m.right;
  const h = height - m.top - m.bottom;
  const all = spec.series.flatMap((s) => s.points);
  const xMax = spec.xMax ?? Math.max(1, ...all.map((p) => p[0]));
  const yData = Math.max(0, ...all.map((p) => p[1]).filter(Number.isFinite), ...(spec.limits ?? []).map((l) => l.y));
  const yStep = niceStep(spec.yMax ?? (yData > 0 ? yData * 1.08 : 1));
  const yMax = spec.yMax ?? Math.max(yStep, Math.ceil((yData * 1.08) / yStep) * yStep);
  const x = (v: number) => m.left + (v / xMax) * w;
  const y = (v: number) => m.top + h - (Math.min(v, yMax) / yMax) * h;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="20" font-size="14" font-weight="bold" fill="#222">${escapeXml(spec.title)}</text>`,
  );
  for (let v = 0; v <= yMax + 1e-9; v += yStep) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${y(v) + 4}" font-size="11" text-anchor="end" fill="#555">${fmt(v)}</text>`,
    );
  }
  const xStep = niceStep(xMax, 8);
  for (let v = 0; v <= xMax + 1e-9; v += xStep) {
    out.push(
      `<line x1="${x(v)}" x2="${x(v)}" y1="${m.top + h}" y2="${m.top + h + 4}" stroke="#888"/>`,
      `<text x="${x(v)}" y="${m.top + h + 16}" font-size="11" text-anchor="middle" fill="#555">${fmt(v)}</text>`,
    );
  }
  out.push(
    `<line x1="${m.left}" x2="${m.left + w}" y1="${m.top + h}" y2="${m.top + h}" stroke="#888"/>`,
    `<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + h}" stroke="#888"/>`,
    `<text x="${m.left + w}" y="${m.top + h + 30}" font-size="11" text-anchor="end" fill="#555">seconds into the run</text>`,
    `<text transform="translate(14 ${m.top + h / 2}) rotate(-90)" font-size="11" text-anchor="middle" fill="#555">${escapeXml(spec.yLabel)}</text>`,
  );
  for (const l of spec.limits ?? []) {
    out.push(
      `<line x1="${m.left}" x2="${m.left + w}" y1="${y(l.y)}" y2="${y(l.y)}" stroke="#b00" stroke-dasharray="6 4"/>`,
      `<text x="${m.left + w - 4}" y="${y(l.y) - 4}" font-size="11" text-anchor="end" fill="#b00">${escapeXml(l.label)}</text>`,
    );
  }
  for (const mk of spec.markers ?? []) {
    out.push(
      `<line x1="${x(mk.x)}" x2="${x(mk.x)}" y1="${m.top}" y2="${m.top + h}" stroke="#000" stroke-dasharray="3 3"/>`,
      `<text x="${x(mk.x) + 4}" y="${m.top + 12}" font-size="11" fill="#000">${escapeXml(mk.label)}</text>`,
    );
  }
  spec.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 0) {
      const d = pts.map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)} ${y(p[1]).toFixed(1)}`).join(' ');
      out.push(
        `<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      );
      if (s.dots) {
        for (const p of pts)
          out.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="2.5" fill="${color}"/>`);
      }
    }
    const lx = m.left + (i % legendColumns) * (w / legendColumns);
    const ly = m.top + h + 48 + Math.floor(i / legendColumns) * 16;
    out.push(
      `<line x1="${lx}" x2="${lx + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color}" stroke-width="3"${s.dashed ? ' stroke-dasharray="5 3"' : ''}/>`,
      `<text x="${lx + 20}" y="${ly}" font-size="11" fill="#333">${escapeXml(s.name)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

/** Several charts side by side in one SVG (for the PNG). */
export function grid(charts: string[], columns: number, cell: { width: number; height: number }, title?: string) {
  const top = title ? 36 : 0;
  const rows = Math.ceil(charts.length / columns);
  const width = columns * cell.width;
  const height = top + rows * cell.height;
  const body = charts
    .map((svg, i) => {
      const inner = svg.replace(/^<svg[^>]*>/, '').replace(/<\/svg>$/, '');
      const gx = (i % columns) * cell.width;
      const gy = top + Math.floor(i / columns) * cell.height;
      return `<g transform="translate(${gx} ${gy})">${inner}</g>`;
    })
    .join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    title ? `<text x="16" y="24" font-size="16" font-weight="bold" fill="#111">${escapeXml(title)}</text>` : '',
    body,
    '</svg>',
  ].join('\n');
}
