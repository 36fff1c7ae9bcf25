// A Server-Sent Events client over real HTTP, for tests: collects events as they arrive.
export interface SseEvent { id?: string; event: string; data: string }

export function openEventStream(url: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  const abort = new AbortController();
  let status = 0;
  const done = (async () => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
    status = res.status;
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'id') e.id = value;
          else if (field === 'event') e.event = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length === 0 && !e.id) continue;
        e.data = data.join('\n');
        events.push(e);
      }
    }
  })().catch((err) => { if ((err as Error).name !== 'AbortError') throw err; });
  return {
    events,
    /** Events of the log (not the stream's own `ready`), parsed. */
    logged: () => events.filter((e) => e.id).map((e) => ({ ...JSON.parse(e.data), id: Number(e.id) })),
    status: () => status,
    close: async () => { abort.abort(); await done; },
  };
}
