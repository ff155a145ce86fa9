import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { fixture, ofKind, render, repoRoot } from './manifests.ts';

// biome-ignore lint/suspicious/noExplicitAny: workflow and kustomization files are read field by field
type Any = any;

const workflow = parseYaml(readFileSync(join(repoRoot, '.github/workflows/ci.yml'), 'utf8')) as Any;
const devEnvFile = 'deploy/k8s/overlays/dev/env/kustomization.yaml';
const steps = (job: string) => workflow.jobs[job].steps as Any[];
const script = (job: string) =>
  steps(job)
    .map((s) => `${s.uses ?? ''} ${s.run ?? ''}`)
    .join('\n');

describe('the delivery flow: tests → image → develop-<sha> in the dev overlay → Argo CD', () => {
  it('when code is pushed, then the image is built from deploy/docker/Dockerfile only after the tests pass', () => {
    expect(workflow.on.push.branches).toEqual(expect.arrayContaining(['develop', 'main']));
    expect(workflow.jobs.image.needs).toBe('test');
    expect(script('test')).toMatch(/npm test/);
    const build = steps('image').find((s) => String(s.uses).startsWith('docker/build-push-action'));
    expect(build.with.file).toBe('deploy/docker/Dockerfile');
    expect(build.with.context).toBe('.');
    expect(script('image')).toMatch(/tag=develop-\$GITHUB_SHA/);
    expect(script('image')).toMatch(/refs\/tags\/v\*\)[\s\S]*is-ancestor "\$GITHUB_SHA" origin\/main/);
  });

  it('when develop is built, then CI writes the tag where the dev overlay takes its image from', () => {
    const job = workflow.jobs['update-dev-overlay'];
    expect(job.needs).toBe('image');
    expect(job.if).toBe("github.ref == 'refs/heads/develop'");
    expect(script('update-dev-overlay')).toContain(
      `yq -i '(.images[] | select(.name == "livehouse")).newTag = strenv(TAG)' ${devEnvFile}`,
    );
    const [env] = fixture(`../../k8s/overlays/dev/env/kustomization.yaml`);
    const image = (env as Any).images.find((i: Any) => i.name === 'livehouse');
    expect(image.newTag).toMatch(/^develop-[0-9a-f]{7,40}$/);
    // …and that is the image every dev container runs.
    const images = ofKind(render('deploy/k8s/overlays/dev'), 'Deployment').flatMap((d) =>
      [...(d.spec.template.spec.initContainers ?? []), ...d.spec.template.spec.containers].map((c: Any) => c.image),
    );
    expect(new Set(images)).toEqual(new Set([`${image.newName}:${image.newTag}`]));
  });

  it('when Argo CD reads the ApplicationSet, then dev follows develop and prod follows main', () => {
    const [appSet] = ofKind(render('deploy/argocd/apps'), 'ApplicationSet');
    const list = appSet!.spec.generators[0].matrix.generators[0].list.elements as Any[];
    expect(list).toEqual([
      { env: 'dev', revision: 'develop', autoSync: true },
      { env: 'prod', revision: 'main', autoSync: false },
    ]);
  });
});
