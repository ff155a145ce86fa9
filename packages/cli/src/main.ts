#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError } from '@livehouse/kit';
import { infraValuesCommand } from './infra-values.ts';
import { planIpsMain } from './plan-ips.ts';
import { seedCommand } from './seed.ts';
import { migrate, serve } from './serve.ts';
import { silenceMain } from './silence.ts';
import { up } from './up.ts';

const USAGE = `usage: livehouse <command>

  up [--data DIR] [--fresh]              every service in one process, embedded storage (default DIR: .livehouse)
  serve <service> --config FILE [--workers N|auto]
                                         run one service (what a pod runs); --workers: one process per core
  plan-ips [options]                     pod IPs needed at full scale against the subnets, or a Terraform root's
                                         (--from deploy/terraform/envs/prod; see --help)
  infra-values [--outputs FILE]          terraform output -json of an environment → the components the manifests
                                         include (see --help)
  migrate <service> --config FILE        apply the service's pending migrations
  seed [--data DIR]                      demo data into a running 'livehouse up' (idempotent)
  silence <create|list|expire> [options] Alertmanager silences for a namespace or service (maintenance; see --help)

Secrets come from LIVEHOUSE_* environment variables; see README.md.`;

async function main(argv: string[]) {
  // plan-ips has options of its own.
  if (argv[0] === 'plan-ips') {
    process.exitCode = await planIpsMain(argv.slice(1));
    return;
  }
  if (argv[0] === 'silence') {
    process.exitCode = await silenceMain(argv.slice(1));
    return;
  }
  if (argv[0] === 'infra-values') {
    process.exitCode = infraValuesCommand(argv.slice(1));
    return;
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      workers: { type: 'string' },
      data: { type: 'string', default: '.livehouse' },
      fresh: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command, service] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case 'up':
      return up({ dataDir: values.data, fresh: values.fresh });
    case 'serve':
    case 'migrate': {
      if (!service || !values.config) throw new UsageError(`${command} needs a service and --config FILE`);
      if (command === 'migrate') return migrate(service, values.config);
      if (values.workers !== undefined && !/^(auto|[1-9]\d*)$/.test(values.workers)) {
        throw new UsageError(`--workers must be a positive integer or 'auto', not '${values.workers}'`);
      }
      return serve(service, values.config, values.workers);
    }
    case 'seed':
      return seedCommand(values.data);
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).catch((err: unknown) => {
  // One line for the operator: what is wrong and, where we know, how to fix it.
  if (err instanceof ConfigError) console.error(`livehouse: ${err.message}`);
  else if (err instanceof UsageError) console.error(`livehouse: ${err.message}\n\n${USAGE}`);
  else if (
    err instanceof Error &&
    'code' in err &&
    (err as NodeJS.ErrnoException).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
  )
    console.error(`livehouse: ${err.message}`);
  else console.error('livehouse: failed:', err);
  process.exit(err instanceof ConfigError || err instanceof UsageError ? 2 : 1);
});
