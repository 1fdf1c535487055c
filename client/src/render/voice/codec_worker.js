// Voice's Opus codec in the browser (WebCodecs), run in a worker: each encode or decode
// waits for the one before, and on the page's own thread that wait is a turn of the
// game's frame (a page drawing 6 frames a second decoded 12 frames of voice in 3 s
// there, and all 151 here). Loaded by render/voice/browser.rs from a Blob.
//
// From the page: ["encoder", bitrate], ["encode", index, Float32Array],
// ["decode", speaker, index, Uint8Array], ["forget", speaker].
// To the page: ["encoded", index, Uint8Array], ["decoded", speaker, index, Float32Array],
// ["error", what].
const RATE = 48000;
let encoder = null;
const decoders = new Map();

function report(what, e) {
  postMessage(["error", what + ": " + (e && e.message ? e.message : String(e))]);
}

function decoder(speaker) {
  let d = decoders.get(speaker);
  if (d && d.state !== "closed") return d;
  d = new AudioDecoder({
    output: (data) => {
      const samples = new Float32Array(data.numberOfFrames);
      data.copyTo(samples, { planeIndex: 0, format: "f32-planar" });
      // Timestamps count the speaker's frames (20 ms each).
      const index = Math.round(data.timestamp / 20000);
      data.close();
      postMessage(["decoded", speaker, index, samples], [samples.buffer]);
    },
    error: (e) => report("a voice did not decode", e),
  });
  d.configure({ codec: "opus", sampleRate: RATE, numberOfChannels: 1 });
  decoders.set(speaker, d);
  return d;
}

onmessage = (event) => {
  const m = event.data;
  try {
    switch (m[0]) {
      case "encoder":
        encoder = new AudioEncoder({
          output: (chunk) => {
            const opus = new Uint8Array(chunk.byteLength);
            chunk.copyTo(opus);
            postMessage(["encoded", Math.round(chunk.timestamp / 20000), opus], [opus.buffer]);
          },
          error: (e) => report("the voice encoder failed", e),
        });
        encoder.configure({
          codec: "opus",
          sampleRate: RATE,
          numberOfChannels: 1,
          bitrate: m[1],
          opus: { frameDuration: 20000, usedtx: true, useinbandfec: true, packetlossperc: 5 },
        });
        break;
      case "encode": {
        const data = new AudioData({
          format: "f32-planar",
          sampleRate: RATE,
          numberOfFrames: m[2].length,
          numberOfChannels: 1,
          timestamp: m[1] * 20000,
          data: m[2],
        });
        encoder.encode(data);
        data.close();
        break;
      }
      case "decode":
        decoder(m[1]).decode(
          new EncodedAudioChunk({ type: "key", timestamp: m[2] * 20000, data: m[3] }),
        );
        break;
      case "forget": {
        const d = decoders.get(m[1]);
        if (d && d.state !== "closed") d.close();
        decoders.delete(m[1]);
        break;
      }
    }
  } catch (e) {
    report(m[0], e);
  }
};
