import type { HostMessage } from '../protocol/webview';

/**
 * The output text posted to the webview per run, as the webview would show it (a `runLog`
 * replaces, `output` appends): lets an extension-host test assert that streamed output reached
 * the panel. Bounded: the last `maxChars` per run, the `maxRuns` most recently posted runs.
 */
export class PostedText {
  private readonly texts = new Map<string, string>();

  constructor(
    private readonly maxChars = 256 * 1024,
    private readonly maxRuns = 20,
  ) {}

  record(message: HostMessage): void {
    if (message.type === 'runLog') this.set(message.run_id, message.output.map((c) => c.data).join(''));
    else if (message.type === 'output') {
      for (const chunk of message.chunks) this.set(chunk.run_id, (this.texts.get(chunk.run_id) ?? '') + chunk.data);
    }
  }

  /** The text posted for a run so far, or undefined if none was. */
  get(runId: string): string | undefined {
    return this.texts.get(runId);
  }

  private set(runId: string, text: string): void {
    this.texts.delete(runId); // re-insert: the Map's order is the eviction order
    this.texts.set(runId, text.length > this.maxChars ? text.slice(-this.maxChars) : text);
    while (this.texts.size > this.maxRuns) this.texts.delete(this.texts.keys().next().value!);
  }
}
