import { useEffect, useRef, useState } from 'preact/hooks';

/** Calls load() now and every intervalMs while the page shows; the latest result or error. */
export function usePoll(load, intervalMs, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    let timer;
    const run = async () => {
      try {
        const data = await load();
        if (alive.current) setState({ data, error: null, loading: false });
      } catch (error) {
        if (alive.current) setState((s) => ({ data: s.data, error, loading: false }));
      }
      if (alive.current && intervalMs) timer = setTimeout(run, intervalMs);
    };
    run();
    return () => {
      alive.current = false;
      clearTimeout(timer);
    };
  }, deps);
  return state;
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return (
    <p class="error" role="alert">
      {error.code ? <strong>{error.code}: </strong> : null}
      {error.message}
    </p>
  );
}

/** What a page shows when the daemon does not implement the action behind it. */
export function NotAvailable({ what }) {
  return (
    <p class="not-available">
      {what} {what.endsWith('s') ? 'are' : 'is'} not available in this Flint cloud yet: the daemon answered
      that it does not implement the action.
    </p>
  );
}

export function StateBadge({ state }) {
  return <span class={'state state-' + (state || 'unknown')}>{state || '?'}</span>;
}

export function Tags({ tags }) {
  if (!tags?.length) return <span class="muted">—</span>;
  return (
    <span class="tags">
      {tags.map((t) => (
        <span class="tag" key={t.key}>
          {t.key}={t.value}
        </span>
      ))}
    </span>
  );
}

export function when(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

/** A generic list of an EC2 Describe action, or the polite note when the daemon lacks the action. */
export function ResourceTable({ title, state, columns, rows, empty }) {
  return (
    <section>
      <h2>{title}</h2>
      {state.error?.notAvailable ? (
        <NotAvailable what={title} />
      ) : (
        <>
          <ErrorNote error={state.error} />
          {state.loading ? (
            <p class="muted">Loading…</p>
          ) : rows.length === 0 ? (
            <p class="muted">{empty}</p>
          ) : (
            <table class="grid">
              <thead>
                <tr>{columns.map((c) => <th key={c.title}>{c.title}</th>)}</tr>
              </thead>
              <tbody>
                {rows.map((row, n) => (
                  <tr key={n}>{columns.map((c) => <td key={c.title}>{c.cell(row)}</td>)}</tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
