import * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * Whether the server at `baseUrl` answers an HTTP/2 connection preface with its
 * SETTINGS (prior knowledge, h2c; ALPN for https). An HTTP/1.1-only server or
 * proxy answers with an error or closes. Returns the reason when it does not.
 */
export function speaksHttp2(baseUrl: string, timeoutMs: number): Promise<true | ConnectError> {
  return new Promise((resolve) => {
    let session: http2.ClientHttp2Session;
    const finish = (result: true | ConnectError): void => {
      clearTimeout(timer);
      session.removeAllListeners();
      session.on("error", () => {}); // the session may still report the failure after we gave up on it
      session.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () => finish(new ConnectError(`no HTTP/2 answer from ${baseUrl} within ${timeoutMs} ms`, Code.DeadlineExceeded)),
      timeoutMs,
    );
    try {
      session = http2.connect(baseUrl);
    } catch (err) {
      clearTimeout(timer);
      resolve(new ConnectError(`cannot open HTTP/2 to ${baseUrl}: ${String(err)}`, Code.Unavailable));
      return;
    }
    session.once("remoteSettings", () => finish(true));
    session.on("error", (err) => finish(new ConnectError(`${baseUrl} does not speak HTTP/2: ${err.message}`, Code.Unavailable)));
    session.once("close", () => finish(new ConnectError(`${baseUrl} closed the HTTP/2 connection`, Code.Unavailable)));
  });
}
