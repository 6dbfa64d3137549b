// Performs HTTP requests for a VU that is blocked in a synchronous k6/http call: the VU posts the
// request on its port and waits on a shared flag; this thread fetches, posts the answer, and wakes it.
import { parentPort, workerData } from 'node:worker_threads';
import { performRequest } from './http-request.mjs';

const flag = new Int32Array(workerData.flag);
const port = workerData.port;
port.on('message', async (request) => {
  const response = await performRequest(request);
  port.postMessage(response);
  Atomics.store(flag, 0, 1);
  Atomics.notify(flag, 0);
});
parentPort?.unref();
