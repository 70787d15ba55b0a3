// Runs one execution of an ASL definition in aws-local-stepfunctions@3.0.0
// (Node >= 22), delivering every Task state to real workers the way AWS Step
// Functions does, because the interpreter has no .waitForTaskToken and no
// Step Functions API of its own:
//
//   sqs:sendMessage.waitForTaskToken  mint a task token, register it with the
//       control server (the Go test's Step Functions API, which enforces
//       HeartbeatSeconds/TimeoutSeconds and receives the worker's
//       SendTaskSuccess/Failure/Heartbeat), send the message to the real SQS
//       queue (AWS JSON 1.0 protocol), then long-poll the control server for
//       the outcome: resolve with the output, or throw an error whose name is
//       the error name the worker sent (so Retry/Catch match by name).
//   sqs:sendMessage                   send the message (request-response).
//   lambda:invoke, or a Lambda function ARN as Resource: POST the payload to
//       the control server, which runs the worker's handler synchronously
//       (the Express variant).
//
// Input: one JSON object on stdin (see statemachinetest.runConfig).
// Output: one JSON object per line on stdout: {"event": ...} for every
// interpreter event, then {"result": {"status": "SUCCEEDED"|"FAILED", ...}}.
// Nothing else is written to stdout; diagnostics go to stderr.
import { randomUUID } from "node:crypto";
import path from "node:path";

const modules = process.env.TENANTRY_NODE_MODULES;
if (!modules) {
  console.error("TENANTRY_NODE_MODULES is not set");
  process.exit(2);
}
const { StateMachine, ExecutionError } = await import(
  path.join(modules, "aws-local-stepfunctions/build/main.node.esm.js")
);

const TOKEN_PLACEHOLDER = "__tenantry_harness_task_token__";
const POLL_SECONDS = 10;

const cfg = JSON.parse(await readStdin());
const out = (obj) => process.stdout.write(JSON.stringify(obj) + "\n");

// taskStates returns every Task state, with Map processors and Parallel
// branches, by name (ASL state names are unique in a definition).
function taskStates(def, acc = {}) {
  for (const [name, st] of Object.entries(def.States ?? {})) {
    if (st.Type === "Task") acc[name] = st;
    for (const b of st.Branches ?? []) taskStates(b, acc);
    if (st.ItemProcessor) taskStates(st.ItemProcessor, acc);
    if (st.Iterator) taskStates(st.Iterator, acc);
  }
  return acc;
}

// retryableStates returns the names of every state with a Retry field.
function retryableStates(def, acc = []) {
  for (const [name, st] of Object.entries(def.States ?? {})) {
    if (st.Retry) acc.push(name);
    for (const b of st.Branches ?? []) retryableStates(b, acc);
    if (st.ItemProcessor) retryableStates(st.ItemProcessor, acc);
    if (st.Iterator) retryableStates(st.Iterator, acc);
  }
  return acc;
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString("utf8");
}

// replaceToken returns v with every string equal to the placeholder
// replaced by token ($$.Task.Token is the same placeholder for every task
// in the interpreter's context; each delivery gets its own token here).
function replaceToken(v, token) {
  if (v === TOKEN_PLACEHOLDER) return token;
  if (Array.isArray(v)) return v.map((x) => replaceToken(x, token));
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceToken(x, token)]));
  }
  return v;
}

async function postJSON(url, body) {
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw namedError("States.Runtime", `control server ${url}: HTTP ${r.status}: ${text}`);
  return text ? JSON.parse(text) : {};
}

async function sqsSend(queueUrl, body) {
  const r = await fetch(cfg.sqsEndpoint + "/", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.0",
      "X-Amz-Target": "AmazonSQS.SendMessage",
    },
    body: JSON.stringify({ QueueUrl: queueUrl, MessageBody: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  const text = await r.text();
  if (!r.ok) {
    // Step Functions names failed SQS integrations after the service.
    throw namedError("SQS.AmazonSQSException", `SendMessage: HTTP ${r.status}: ${text}`);
  }
  return JSON.parse(text);
}

function namedError(name, message) {
  const e = new Error(message);
  e.name = name;
  return e;
}

function failFromOutcome(o) {
  throw namedError(o.error ?? "States.TaskFailed", o.cause ?? "");
}

// waitForTaskToken delivers one task and waits for the worker's answer.
async function waitForTaskToken(stateName, st, input) {
  const token = "tok-" + randomUUID();
  // The control server enforces both (and may override HeartbeatSeconds).
  const hb = st.HeartbeatSeconds ?? 0;
  const timeout = st.TimeoutSeconds ?? 0;
  await postJSON(cfg.control + "/harness/tasks", {
    token,
    state: stateName,
    execution: cfg.executionArn,
    heartbeatSeconds: hb,
    timeoutSeconds: timeout,
  });
  await sqsSend(input.QueueUrl, replaceToken(input.MessageBody, token));
  for (;;) {
    const o = await postJSON(cfg.control + "/harness/wait", { token, waitSeconds: POLL_SECONDS });
    if (o.status === "pending") continue;
    if (o.status === "succeeded") return o.output === undefined || o.output === "" ? {} : JSON.parse(o.output);
    failFromOutcome(o);
  }
}

// invoke runs a Lambda function synchronously through the control server;
// wrapped is the lambda:invoke integration's result shape, else the
// function's own output (a Task whose Resource is the function ARN).
async function invoke(stateName, fn, payload, wrapped) {
  const o = await postJSON(cfg.control + "/harness/invoke", {
    state: stateName,
    execution: cfg.executionArn,
    function: fn,
    payload: payload ?? {},
  });
  if (o.status !== "succeeded") failFromOutcome(o);
  const out = o.output ? JSON.parse(o.output) : null;
  return wrapped ? { ExecutedVersion: "$LATEST", StatusCode: 200, Payload: out } : out;
}

function handlerFor(stateName, st) {
  const res = String(st.Resource ?? "").replace(/^arn:[^:]+:/, "arn:aws:");
  switch (res) {
    case "arn:aws:states:::sqs:sendMessage.waitForTaskToken":
      return (input) => waitForTaskToken(stateName, st, input);
    case "arn:aws:states:::sqs:sendMessage":
      return async (input) => sqsSend(input.QueueUrl, input.MessageBody);
    case "arn:aws:states:::lambda:invoke":
      return (input) => invoke(stateName, input.FunctionName, input.Payload, true);
    default:
      if (/^arn:aws:lambda:[^:]+:\d{12}:function:/.test(res)) {
        return (input) => invoke(stateName, st.Resource, input, false);
      }
      return async () => {
        throw namedError("States.Runtime", `harness: resource ${st.Resource} is not modelled`);
      };
  }
}

const handlers = {};
for (const [name, st] of Object.entries(taskStates(cfg.definition))) handlers[name] = handlerFor(name, st);

const retryIntervalOverrides = {};
if (cfg.retryIntervalMs !== undefined && cfg.retryIntervalMs !== null) {
  for (const name of retryableStates(cfg.definition)) retryIntervalOverrides[name] = cfg.retryIntervalMs;
}

const machine = new StateMachine(cfg.definition, {
  validationOptions: { checkArn: true, checkPaths: true },
});
const execution = machine.run(cfg.input, {
  overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides },
  context: {
    Execution: { Id: cfg.executionArn, Name: cfg.executionName },
    StateMachine: { Id: cfg.stateMachineArn },
    Task: { Token: TOKEN_PLACEHOLDER },
  },
});

// compact keeps what tests assert on; state inputs and outputs (which hold
// envelopes) stay out of the log.
function compact(ev) {
  return {
    type: ev.type,
    state: ev.state?.name ?? ev.parentState?.name,
    index: ev.index,
    error: ev.Error,
    cause: typeof ev.Cause === "string" ? ev.Cause : undefined,
    attempt: ev.retry?.attempt,
  };
}

const logging = (async () => {
  for await (const ev of execution.eventLogs) out({ event: compact(ev) });
})();

let result;
try {
  result = { status: "SUCCEEDED", output: await execution.result };
} catch (err) {
  const cause = err instanceof ExecutionError && err.cause ? err.cause : err;
  result = { status: "FAILED", error: cause.name ?? "States.Runtime", cause: cause.message ?? String(cause) };
}
await logging.catch((e) => console.error("event log:", e));
out({ result });
