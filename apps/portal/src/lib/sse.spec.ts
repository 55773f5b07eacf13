import { SseParser } from './sse';

describe('reading the event stream from fetch', () => {
  it('joins events split across chunks, skips comments, keeps the id', () => {
    const p = new SseParser();
    expect(p.push(': connected\n\nid: 7\nevent: instance.state\ndata: {"subjectId":"i1",')).toEqual([]);
    const out = p.push('"state":"running"}\n\nid: 8\r\nevent: host.status\r\ndata: {"subjectId":"h1"}\r\n\r\n');
    expect(out).toEqual([
      { id: '7', type: 'instance.state', data: { subjectId: 'i1', state: 'running' } },
      { id: '8', type: 'host.status', data: { subjectId: 'h1' } },
    ]);
  });
});
