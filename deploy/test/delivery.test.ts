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
    // The repository is Terraform's (the generated component every dev folder lists after env).
    const [generated] = fixture('../../terraform/envs/dev/k8s/kustomization.yaml');
    const repository = (generated as Any).images.find((i: Any) => i.name === 'livehouse').newName;
    expect(image.newName).toBeUndefined();
    expect(new Set(images)).toEqual(new Set([`${repository}:${image.newTag}`]));
  });

  it('when Argo CD reads the ApplicationSets, then dev follows develop and prod a release tag, with separate generators', () => {
    const appSets = ofKind(
      [...render('deploy/argocd/clusters/dev'), ...render('deploy/argocd/clusters/prod')],
      'ApplicationSet',
    );
    const byEnv = (env: string) =>
      appSets.filter((s) => s.spec.template.metadata.labels['livehouse.dev/environment'] === env);
    // One ApplicationSet per environment, each with its own generator: a develop that does not render blocks only dev.
    expect(byEnv('dev')).toHaveLength(1);
    expect(byEnv('prod')).toHaveLength(1);
    const [dev, prod] = [byEnv('dev')[0]!, byEnv('prod')[0]!];
    const revisions = (s: (typeof appSets)[number]) =>
      new Set([
        s.spec.template.spec.source.targetRevision,
        ...(s.spec.generators as Any[]).map((g) => g.git?.revision),
      ]);
    expect(revisions(dev)).toEqual(new Set(['develop']));
    // prod: an immutable release tag, never a branch; the manifests at that tag and its image tag are released together.
    const [prodRevision] = [...revisions(prod)];
    expect(revisions(prod).size).toBe(1);
    expect(prodRevision).toMatch(/^v\d+\.\d+\.\d+$/);
    const [env] = fixture('../../k8s/overlays/prod/env/kustomization.yaml');
    expect((env as Any).images.find((i: Any) => i.name === 'livehouse').newTag).toBe(prodRevision);
  });

  it('when CI commits the dev image tag to develop, then the develop→main pull request still runs CI on its head', () => {
    const commit = steps('update-dev-overlay').find((s) => String(s.run).includes('git commit'));
    // GitHub skips push and pull_request runs whose head commit says so; the overlay commit is often the PR's head.
    expect(commit.run).not.toMatch(/\[(skip ci|ci skip|no ci|skip actions|actions skip)\]|skip-checks:\s*true/i);
    // Pushes made with GITHUB_TOKEN start no workflow (not even the PR's): the push uses a GitHub App's token…
    const checkout = steps('update-dev-overlay').find((s) => String(s.uses).startsWith('actions/checkout'));
    expect(checkout.with.token).toMatch(/steps\.app-token\.outputs\.token/);
    expect(steps('update-dev-overlay').some((s) => String(s.uses).startsWith('actions/create-github-app-token'))).toBe(
      true,
    );
    // …and a push of that file alone does not build again (no loop).
    expect(workflow.on.push['paths-ignore']).toContain(devEnvFile);
    expect(workflow.on.pull_request?.['paths-ignore']).toBeUndefined();
  });
});
