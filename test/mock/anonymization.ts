import { HttpResponse, http, type RequestHandler } from 'msw';
import { type Json, jsonBody, notFound, now, resourceKit } from './common.js';
import { BASE, type NeonFake, neonError } from './neon-fake.js';
import { features } from './stores.js';

export function anonymizationHandlers(fake: NeonFake): RequestHandler[] {
  const s = features(fake);
  const { withBranch, withProject, ops } = resourceKit(fake);
  const B = `${BASE}/projects/:project_id/branches/:branch_id`;
  return [
    http.post(
      `${BASE}/projects/:project_id/branch_anonymized`,
      withProject(async ({ request, project }) => {
        const body = await jsonBody(request);
        const create = body.branch_create ?? {};
        const parent = create.branch?.parent_id
          ? fake.branches.get(create.branch.parent_id)
          : fake.branchesOf(project.id).find((b) => b.default);
        if (!parent || parent.project_id !== project.id)
          return notFound(`branch ${create.branch?.parent_id}`);
        const branch = fake.makeBranch(project.id, {
          name: create.branch?.name,
          parent_id: parent.id,
          current_state: 'init',
        });
        for (const d of fake.databasesOf(parent.id)) fake.makeDatabase(branch.id, d.name, d.owner_name);
        const endpoints = (create.endpoints ?? []).map((e: Json) =>
          fake.makeEndpoint(project.id, branch.id, e.type),
        );
        const t = now();
        s.anonymized.set(branch.id, {
          status: {
            project_id: project.id,
            branch_id: branch.id,
            state: body.start_anonymization ? 'anonymizing' : 'initialized',
            created_at: t,
            updated_at: t,
          },
          rules: body.masking_rules ?? [],
          polls: s.anonymizePolls,
        });
        const answer = {
          branch: { ...branch },
          endpoints,
          operations: ops(project.id, [
            { action: 'create_branch', branch_id: branch.id },
            ...endpoints.map(() => ({ action: 'start_compute', branch_id: branch.id })),
          ]),
          roles: [],
          databases: fake.databasesOf(branch.id),
        };
        branch.current_state = 'ready';
        return HttpResponse.json(answer, { status: 201 });
      }),
    ),
    http.get(
      `${B}/anonymized_status`,
      withBranch(({ branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        if (a.status.state === 'anonymizing') {
          if (a.polls > 0) a.polls--;
          else {
            const bad = a.rules.find((r) => r.masking_function?.startsWith('anon.broken'));
            a.status.state = bad ? 'error' : 'anonymized';
            a.status.updated_at = now();
            if (bad) a.status.status_message = `function ${bad.masking_function} does not exist`;
            else {
              delete a.status.status_message;
              a.status.last_run = { started_at: a.status.updated_at, masked_columns: a.rules.length };
            }
          }
        }
        return HttpResponse.json(a.status);
      }),
    ),
    http.get(
      `${B}/masking_rules`,
      withBranch(({ branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        return HttpResponse.json({ masking_rules: a.rules });
      }),
    ),
    http.patch(
      `${B}/masking_rules`,
      withBranch(async ({ request, branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        a.rules = (await jsonBody(request)).masking_rules;
        return HttpResponse.json({ masking_rules: a.rules });
      }),
    ),
    http.post(
      `${B}/anonymize`,
      withBranch(({ branch }) => {
        const a = s.anonymized.get(branch.id);
        if (!a) return neonError(404, `branch ${branch.id} is not an anonymized branch`, 'NOT_FOUND');
        if (!['initialized', 'error', 'anonymized'].includes(a.status.state))
          return neonError(409, `cannot start anonymization in state ${a.status.state}`, 'CONFLICT');
        a.status.state = 'anonymizing';
        a.status.updated_at = now();
        a.polls = s.anonymizePolls;
        return HttpResponse.json(a.status);
      }),
    ),
  ];
}
