import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** Whole-machine CPU busy share from /proc/stat (Linux), to show what else ran during the test. */
function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Microseconds some task waited for a CPU (Linux pressure stall information), if the kernel has it. */
function cpuPressureUs(): number | undefined {
  try {
    const some = readFileSync('/proc/pressure/cpu', 'utf8').split('\n')[0] ?? '';
    const m = /total=(\d+)/.exec(some);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface MachineSample {
  t: number;
  machineCpuPercent?: number;
  /** Share of the second in which some runnable task waited for a CPU (PSI "some"). */
  cpuPressurePercent?: number;
  /** The load generator's own process (this one): if it saturates, its latencies are not to be trusted. */
  generatorCpuPercent: number;
  generatorLoopUtilization: number;
  generatorLoopDelayP99Ms: number;
  loadAverage: number;
}

/** Samples the machine and this process every `everyMs`; `t` is seconds since `startedAt`. */
export function watchMachine(startedAt: number, everyMs = 1000) {
  const samples: MachineSample[] = [];
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  let cpu = cpuTimes();
  let pressure = cpuPressureUs();
  let own = process.cpuUsage();
  let elu = performance.eventLoopUtilization();
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    const cpuNow = cpuTimes();
    const ownNow = process.cpuUsage(own);
    const pressureNow = cpuPressureUs();
    samples.push({
      t: (Date.now() - startedAt) / 1000,
      ...(cpu &&
        cpuNow && {
          machineCpuPercent: ((cpuNow.busy - cpu.busy) / Math.max(1, cpuNow.total - cpu.total)) * 100,
        }),
      ...(pressure !== undefined &&
        pressureNow !== undefined && {
          cpuPressurePercent: Math.min(100, ((pressureNow - pressure) / 1000 / (now - at)) * 100),
        }),
      generatorCpuPercent: ((ownNow.user + ownNow.system) / 1000 / (now - at)) * 100,
      generatorLoopUtilization: performance.eventLoopUtilization(elu).utilization,
      generatorLoopDelayP99Ms: delay.percentile(99) / 1e6,
      loadAverage: loadavg()[0] ?? 0,
    });
    delay.reset();
    cpu = cpuNow;
    pressure = pressureNow;
    own = process.cpuUsage();
    elu = performance.eventLoopUtilization();
    at = now;
  }, everyMs);
  timer.unref();
  return {
    samples,
    stop() {
      clearInterval(timer);
      delay.disable();
    },
  };
}

export function machineInfo() {
  const c = cpus();
  return { cores: c.length, model: c[0]?.model ?? 'unknown', loadAverageAtStart: loadavg() };
}
