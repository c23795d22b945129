// The TypeScript SDK (1.32.x) against `brain mcp` over stdio: a tool call with onprogress and
// resetTimeoutOnProgress. Reports the SDK's errors and the order progress notifications and
// responses arrived in, so a test can check that no notification came after its answer.
// usage: MCP_NPM_DIR=<npm folder> node ts_client.mjs <brain binary> <brain dir> [tool args JSON]
// Prints one JSON report on stdout.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const sdk = (p) => import(pathToFileURL(path.join(process.env.MCP_NPM_DIR, 'node_modules/@modelcontextprotocol/sdk/dist/esm', p)).href);
const { Client } = await sdk('client/index.js');
const { StdioClientTransport } = await sdk('client/stdio.js');
const { CallToolResultSchema } = await sdk('types.js');

const [brain, dir, argsJson = '{"force": true}'] = process.argv.slice(2);
const transport = new StdioClientTransport({ command: brain, args: ['--dir', dir, 'mcp'], stderr: 'ignore' });
const client = new Client({ name: 'brain-ts-test', version: '0.0.1' });
const errors = [];
client.onerror = (e) => errors.push(String(e.message ?? e));
await client.connect(transport);
// The order messages arrive in, before the SDK dispatches them: the SDK runs a notification
// handler a microtask after a response read in the same chunk (typescript-sdk issue #2580),
// so its "unknown token" error alone cannot tell a late notification from that race.
const wire = [];
const dispatch = transport.onmessage;
transport.onmessage = (message, extra) => {
  if (message.method === 'notifications/progress') wire.push({ progressToken: message.params.progressToken });
  else if (message.id !== undefined && message.method === undefined) wire.push({ response: message.id });
  dispatch(message, extra);
};
const progress = [];
const started = Date.now();
const result = await client.callTool({ name: 'site_generate', arguments: JSON.parse(argsJson) }, CallToolResultSchema, {
  onprogress: (p) => progress.push({ progress: p.progress, total: p.total, message: p.message, at: Date.now() - started }),
  timeout: 5_000, resetTimeoutOnProgress: true, maxTotalTimeout: 120_000,
});
// Give a late notification time to arrive (and be reported through onerror) before closing.
await new Promise((r) => setTimeout(r, 700));
const tools = await client.listTools();
await client.close();
console.log(JSON.stringify({
  protocol: transport.protocolVersion ?? null,
  tools: tools.tools.map((t) => t.name),
  progress,
  result: { isError: result.isError ?? false, structured: result.structuredContent ?? null, text: result.content?.[0]?.text ?? '' },
  errors,
  wire,
}));
