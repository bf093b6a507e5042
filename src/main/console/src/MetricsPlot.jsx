import { usePoll } from './ui.jsx';

async function loadMetrics(instanceId) {
  const r = await fetch('/console/metrics/' + encodeURIComponent(instanceId), { credentials: 'same-origin' });
  if (!r.ok) throw new Error('metrics: HTTP ' + r.status);
  return (await r.json()).samples;
}

/** Bytes per second between consecutive samples of a running total. */
function rates(samples, field) {
  const out = [];
  for (let n = 1; n < samples.length; n++) {
    const seconds = (samples[n].epochMillis - samples[n - 1].epochMillis) / 1000;
    const delta = samples[n][field] - samples[n - 1][field];
    out.push({ t: samples[n].epochMillis, v: seconds > 0 && delta >= 0 ? delta / seconds : 0 });
  }
  return out;
}

function human(bytesPerSecond) {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let v = bytesPerSecond;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return v.toFixed(v < 10 && u > 0 ? 1 : 0) + ' ' + units[u];
}

const W = 320;
const H = 64;

/** A hand-drawn sparkline: one polyline per series, scaled to the larger of the data and a floor. */
function Sparkline({ title, series, floor, format }) {
  const points = series.flatMap((s) => s.points);
  if (points.length < 2) {
    return (
      <figure class="spark">
        <figcaption>{title}</figcaption>
        <p class="muted small">Not enough samples yet.</p>
      </figure>
    );
  }
  const t0 = Math.min(...points.map((p) => p.t));
  const t1 = Math.max(...points.map((p) => p.t));
  const top = Math.max(floor, ...points.map((p) => p.v));
  const x = (t) => (t1 === t0 ? 0 : ((t - t0) / (t1 - t0)) * W);
  const y = (v) => H - (v / top) * (H - 4) - 2;
  return (
    <figure class="spark">
      <figcaption>
        {title}
        {series.map((s) => (
          <span key={s.name} class="legend" style={{ color: s.color }}>
            {' '}
            {s.name} {s.points.length ? format(s.points[s.points.length - 1].v) : ''}
          </span>
        ))}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width={W} height={H} role="img" aria-label={title}>
        <line x1="0" y1={H - 1} x2={W} y2={H - 1} class="axis" />
        {series.map((s) => (
          <polyline
            key={s.name}
            fill="none"
            stroke={s.color}
            stroke-width="1.5"
            points={s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ')}
          />
        ))}
        <text x={W - 2} y="10" text-anchor="end" class="scale">
          {format(top)}
        </text>
      </svg>
    </figure>
  );
}

export function MetricsPlot({ instanceId }) {
  const state = usePoll(() => loadMetrics(instanceId), 2000, [instanceId]);
  const samples = state.data ?? [];
  if (state.error) return <p class="muted">Metrics are not available ({state.error.message}).</p>;
  if (!state.loading && samples.length === 0) return <p class="muted" id="metrics-none">No metrics for this instance yet.</p>;
  return (
    <div class="metrics" id="metrics">
      <Sparkline
        title="CPU"
        floor={100}
        format={(v) => v.toFixed(0) + ' %'}
        series={[{ name: 'cpu', color: '#c2410c', points: samples.map((s) => ({ t: s.epochMillis, v: s.cpuPercent })) }]}
      />
      <Sparkline
        title="Disk"
        floor={1024}
        format={human}
        series={[
          { name: 'read', color: '#2563eb', points: rates(samples, 'blockReadBytes') },
          { name: 'write', color: '#9333ea', points: rates(samples, 'blockWriteBytes') },
        ]}
      />
      <Sparkline
        title="Network"
        floor={1024}
        format={human}
        series={[
          { name: 'rx', color: '#059669', points: rates(samples, 'netRxBytes') },
          { name: 'tx', color: '#d97706', points: rates(samples, 'netTxBytes') },
        ]}
      />
    </div>
  );
}
