// Starts the fauxqs SQS server (AWS JSON 1.0 protocol) on 127.0.0.1 only.
// fauxqs's own CLI binds 0.0.0.0, so we build its Fastify app and listen here.
import { buildApp } from "fauxqs";

const port = parseInt(process.env.FAUXQS_PORT ?? "9324", 10);
// No `host` option: queue URLs then use the request's Host (http://127.0.0.1:PORT/...).
const app = buildApp({ logger: false, defaultRegion: "us-east-1" });
await app.listen({ port, host: "127.0.0.1" });
console.log(`fauxqs listening on 127.0.0.1:${port}`);
const stop = () => app.close().then(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
