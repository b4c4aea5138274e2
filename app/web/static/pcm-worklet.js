// AudioWorklet: microphone float samples -> 16-bit little-endian PCM, ~100 ms per message.
class PcmS16 extends AudioWorkletProcessor {
  constructor() {
    super();
    this.buffer = new Int16Array(Math.round(sampleRate / 10));
    this.length = 0;
  }
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) {
      for (let i = 0; i < channel.length; i++) {
        const s = Math.max(-1, Math.min(1, channel[i]));
        this.buffer[this.length++] = s < 0 ? s * 32768 : s * 32767;
        if (this.length === this.buffer.length) {
          this.port.postMessage(this.buffer.slice().buffer);
          this.length = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("pcm-s16", PcmS16);
