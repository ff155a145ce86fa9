import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IngestConfig, RenditionConfig } from './config.ts';

const run = promisify(execFile);

/**
 * ffmpeg's arguments for one run: FLV on stdin, one HLS output per rendition into `dir/<name>/`.
 * Transcoded renditions get keyframes forced on the segment boundaries, so they align with each
 * other (and with a source whose GOP divides the segment length).
 */
export function ffmpegArgs(
  config: Pick<IngestConfig, 'segmentSeconds' | 'preset'>,
  renditions: readonly RenditionConfig[],
  dir: string,
) {
  const scaled = renditions.filter((r) => !r.copy);
  const args = ['-hide_banner', '-nostdin', '-loglevel', 'error', '-progress', 'pipe:1', '-stats_period', '1'];
  args.push('-fflags', '+genpts', '-f', 'flv', '-i', 'pipe:0');
  if (scaled.length > 0) {
    const labels = scaled.map((_, i) => `[s${i}]`).join('');
    const scales = scaled.map((r, i) => `[s${i}]scale=-2:${r.height ?? 360}[v${i}]`).join(';');
    args.push('-filter_complex', `[0:v]split=${scaled.length}${labels};${scales}`);
  }
  const hls = (name: string) => [
    '-f',
    'hls',
    '-hls_time',
    String(config.segmentSeconds),
    '-hls_list_size',
    '30',
    '-hls_flags',
    'temp_file+omit_endlist+delete_segments',
    '-hls_segment_filename',
    join(dir, name, '%06d.ts'),
    join(dir, name, 'index.m3u8'),
  ];
  let v = 0;
  for (const r of renditions) {
    if (r.copy) {
      args.push('-map', '0:v', '-map', '0:a?', '-c', 'copy', ...hls(r.name));
      continue;
    }
    const kbps = r.videoKbps ?? 800;
    args.push(
      '-map',
      `[v${v++}]`,
      '-map',
      '0:a?',
      '-c:v',
      'libx264',
      '-preset',
      config.preset,
      '-tune',
      'zerolatency',
      '-profile:v',
      'main',
      '-pix_fmt',
      'yuv420p',
      '-b:v',
      `${kbps}k`,
      '-maxrate',
      `${Math.round(kbps * 1.1)}k`,
      '-bufsize',
      `${kbps * 2}k`,
      '-sc_threshold',
      '0',
      '-force_key_frames',
      `expr:gte(t,n_forced*${config.segmentSeconds})`,
      '-c:a',
      'aac',
      '-b:a',
      `${r.audioKbps}k`,
      '-ac',
      '2',
      ...hls(r.name),
    );
  }
  return args;
}

export interface FfmpegRun {
  process: ChildProcess;
  /** Resolves with the exit code (or signal) when the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Writes FLV bytes; false when ffmpeg is gone. A slow ffmpeg never blocks the RTMP socket. */
  write(chunk: Buffer): boolean;
  /** Ends stdin: ffmpeg finishes the segment in progress and exits. */
  end(): void;
  kill(): void;
}

/** Starts ffmpeg; `onSpeed` gets `speed=` from `-progress` (1.0 = real time), `onProgress` its output time. */
export function startFfmpeg(
  binary: string,
  args: string[],
  handlers: {
    onSpeed: (speed: number) => void;
    /** Media seconds written so far (`out_time_us`), once per progress report. */
    onProgress?: (outSeconds: number) => void;
    onStderr: (line: string) => void;
  },
): FfmpegRun {
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  child.stdin.on('error', () => {}); // EPIPE when ffmpeg dies: the supervisor sees the exit
  child.on('error', (err) => handlers.onStderr(`ffmpeg did not start: ${err.message}`));
  let buffered = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => {
    buffered += text;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('out_time_us=')) {
        const us = Number(line.slice(12));
        if (Number.isFinite(us) && us > 0) handlers.onProgress?.(us / 1e6);
        continue;
      }
      if (!line.startsWith('speed=')) continue;
      const speed = Number.parseFloat(line.slice(6));
      if (Number.isFinite(speed)) handlers.onSpeed(speed);
    }
  });
  let errText = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => {
    errText += text;
    const lines = errText.split('\n');
    errText = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) handlers.onStderr(line.trim().slice(0, 500));
  });
  let open = true;
  child.once('close', () => {
    open = false;
  });
  const MAX_BACKLOG = 32 * 1024 * 1024;
  return {
    process: child,
    exited,
    write(chunk) {
      if (!open || child.stdin.destroyed || child.stdin.writableEnded) return false;
      // An ffmpeg that cannot keep up (or hangs) is killed and restarted rather than buffering without bound.
      if (child.stdin.writableLength > MAX_BACKLOG) {
        child.kill('SIGKILL');
        return false;
      }
      child.stdin.write(chunk);
      return true;
    },
    end() {
      if (!child.stdin.destroyed && !child.stdin.writableEnded) child.stdin.end();
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}

export interface ProbedStream {
  width: number;
  height: number;
  codecs: string;
  videoProfile?: string;
  videoLevel?: number;
  audioProfile?: string;
  hasVideo: boolean;
  hasAudio: boolean;
}

/** Resolution and codecs of a segment, for the master playlist. */
export async function probe(binary: string, file: string): Promise<ProbedStream> {
  const { stdout } = await run(
    binary,
    ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name,profile,level,width,height', '-of', 'json', file],
    { timeout: 10_000 },
  );
  const streams = (JSON.parse(stdout) as { streams?: Record<string, unknown>[] }).streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video');
  const audio = streams.find((s) => s.codec_type === 'audio');
  return {
    width: Number(video?.width ?? 0),
    height: Number(video?.height ?? 0),
    codecs: '',
    ...(typeof video?.profile === 'string' && { videoProfile: video.profile }),
    ...(typeof video?.level === 'number' && { videoLevel: video.level }),
    ...(typeof audio?.profile === 'string' && { audioProfile: audio.profile }),
    hasVideo: video !== undefined,
    hasAudio: audio !== undefined,
  };
}

/** One JPEG frame of a segment (a live thumbnail). */
export async function grabFrame(binary: string, file: string): Promise<Buffer> {
  const { stdout } = await run(
    binary,
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-i',
      file,
      '-frames:v',
      '1',
      '-q:v',
      '3',
      '-f',
      'image2',
      '-c:v',
      'mjpeg',
      'pipe:1',
    ],
    { encoding: 'buffer', timeout: 15_000, maxBuffer: 16 * 1024 * 1024 },
  );
  return stdout;
}
