import type { CDPSession } from "playwright-core";
import { ImageFormat, type ScreenshotOptions } from "../../../gen/openenv/envs/browser/v1/browser_pb.js";

/** A screenshot as the observation carries it. */
export interface Screenshot {
  readonly data: Uint8Array;
  readonly mimeType: string;
  readonly width: number;
  readonly height: number;
}

/** A screenshot of the viewport via CDP, which can scale the image down in the browser. */
export async function captureViewport(cdp: CDPSession, options: ScreenshotOptions): Promise<Screenshot> {
  const { cssVisualViewport: v } = await cdp.send("Page.getLayoutMetrics");
  const width = Math.min(options.width ?? v.clientWidth, v.clientWidth);
  const scale = width / v.clientWidth;
  const jpeg = options.format === ImageFormat.JPEG;
  const shot = await cdp.send("Page.captureScreenshot", {
    format: jpeg ? "jpeg" : "png",
    ...(jpeg ? { quality: options.jpegQuality ?? 80 } : {}),
    clip: { x: v.pageX, y: v.pageY, width: v.clientWidth, height: v.clientHeight, scale },
  });
  return {
    data: Buffer.from(shot.data, "base64"),
    mimeType: jpeg ? "image/jpeg" : "image/png",
    width: Math.round(v.clientWidth * scale),
    height: Math.round(v.clientHeight * scale),
  };
}
