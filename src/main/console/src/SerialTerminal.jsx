import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';

const CLOSE_REASONS = { 1000: 'closed', 1006: 'connection lost', 4404: 'no serial console' };

/** xterm.js on a WebSocket to the instance's serial port: every key typed goes to the guest. */
export function SerialTerminal({ instanceId, running }) {
  const box = useRef(null);
  const [status, setStatus] = useState('connecting');
  const [generation, setGeneration] = useState(0);

  useEffect(() => {
    if (!running) {
      setStatus('the instance is not running');
      return undefined;
    }
    const term = new Terminal({
      convertEol: false,
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
      fontSize: 14,
      rows: 24,
      scrollback: 5000,
      theme: { background: '#111418' },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    fit.fit();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${scheme}://${location.host}/console/ws/serial/${encodeURIComponent(instanceId)}`);
    ws.binaryType = 'arraybuffer';
    const encoder = new TextEncoder();
    setStatus('connecting');
    ws.onopen = () => {
      setStatus('connected');
      term.focus();
    };
    ws.onmessage = (e) => term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
    ws.onclose = (e) => setStatus((CLOSE_REASONS[e.code] ?? 'closed') + (e.reason ? ': ' + e.reason : ''));
    const keys = term.onData((data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
    });
    const binary = term.onBinary((data) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(Uint8Array.from(data, (c) => c.charCodeAt(0)));
    });
    const resize = () => fit.fit();
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      keys.dispose();
      binary.dispose();
      ws.onclose = null; // this page closes it: no "closed" over the status the next render sets
      ws.close();
      term.dispose();
    };
  }, [instanceId, running, generation]);

  return (
    <div class="serial">
      <div class="serial-head">
        <span id="serial-status" class={'serial-status ' + (status === 'connected' ? 'ok' : '')}>
          Serial console: {status}
        </span>
        {running && status !== 'connected' && status !== 'connecting' ? (
          <button type="button" class="small" onClick={() => setGeneration((g) => g + 1)}>
            Reconnect
          </button>
        ) : null}
      </div>
      <div class={"terminal" + (running ? "" : " idle")} id="serial-terminal" ref={box} />
    </div>
  );
}
