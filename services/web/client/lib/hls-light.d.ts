// hls.js ships no types for its light build; it is the same API without alt-audio, subtitles or DRM.
declare module 'hls.js/light' {
  export * from 'hls.js';
  export { default } from 'hls.js';
}
