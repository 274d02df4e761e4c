/**
 * Per-fake state of the resources beyond the core stores of {@link NeonFake}: the account (users,
 * organizations, API keys, sharing, VPC, JWKS, …) and the branch features (snapshots, anonymization,
 * Data API, storage, functions). Kept in WeakMaps keyed by the fake, so a fresh fake per test starts
 * empty; tests seed and inspect them through these functions.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Json } from './common.js';
import type { NeonFake } from './neon-fake.js';

export interface FakeOrg {
  org: Json;
  apiKeys: Json[];
  members: { member: Json; user: Json }[];
  invitations: Json[];
  spendingLimitCents: number | null;
  /** region → VPC endpoint ID → { label, state } */
  vpcEndpoints: Map<string, Map<string, { label: string; state: string }>>;
  /** Projects the plan allows at most (transfers beyond it answer 406). */
  projectLimit?: number;
}

export interface AccountStore {
  auth: Json;
  user: Json;
  regions: Json[];
  apiKeys: Json[];
  orgs: Map<string, FakeOrg>;
  /** Projects shared with the user (owned by someone else). */
  shared: Json[];
  /** Deleted projects still recoverable, with their branches. */
  deleted: Map<string, { project: Json; branches: Json[] }>;
  permissions: Map<string, Json[]>;
  transfers: Map<string, Json>;
  /** project ID → integration name; such projects cannot be moved between organizations. */
  integrations: Map<string, string>;
  advisorIssues: Json[];
  projectVpc: Map<string, Map<string, string>>;
  jwks: Json[];
  nextKeyId: number;
}

const accountStores = new WeakMap<NeonFake, AccountStore>();

/** The account store of a fake (created on first use). */
export function accountStore(fake: NeonFake): AccountStore {
  let s = accountStores.get(fake);
  if (!s) {
    s = {
      auth: { account_id: 'user-1', auth_method: 'api_key_user', auth_data: 'key 1' },
      user: {
        id: 'user-1',
        email: 'ada@example.com',
        login: 'ada',
        name: 'Ada',
        last_name: 'Lovelace',
        image: '',
        plan: 'launch',
        projects_limit: 100,
        branches_limit: 5000,
        max_autoscaling_limit: 16,
        active_seconds_limit: 0,
        compute_seconds_limit: 0,
        auth_accounts: [
          { provider: 'github', email: 'ada@example.com', name: 'Ada', login: 'ada', image: '' },
        ],
        billing_account: {
          state: 'active',
          subscription_type: 'launch',
          payment_source: { type: 'card' },
          payment_method: 'stripe',
          quota_reset_at_last: '2026-11-01T00:00:00Z',
          name: 'Ada Lovelace',
          email: 'billing@example.com',
          address_city: 'London',
          address_country: 'GB',
          address_line1: '1 Analytical Row',
          address_line2: '',
          address_postal_code: 'N1',
          address_state: '',
        },
      },
      regions: [
        {
          region_id: 'aws-us-east-2',
          name: 'AWS US East 2 (Ohio)',
          default: true,
          geo_lat: '',
          geo_long: '',
        },
        {
          region_id: 'aws-eu-central-1',
          name: 'AWS Europe Central 1',
          default: false,
          geo_lat: '',
          geo_long: '',
        },
        { region_id: 'azure-eastus2', name: 'Azure East US 2', default: false, geo_lat: '', geo_long: '' },
      ],
      apiKeys: [],
      orgs: new Map(),
      shared: [],
      deleted: new Map(),
      permissions: new Map(),
      transfers: new Map(),
      integrations: new Map(),
      advisorIssues: [],
      projectVpc: new Map(),
      jwks: [],
      nextKeyId: 1000,
    };
    accountStores.set(fake, s);
  }
  return s;
}

/** An organization with one admin (the current user); more members with `addMember`. */
export function seedOrg(fake: NeonFake, id: string, fields: Json = {}): FakeOrg {
  const t = new Date().toISOString();
  const org: FakeOrg = {
    org: {
      id,
      name: fields.name ?? id,
      handle: `${id}-handle`,
      plan: fields.plan ?? 'scale',
      created_at: t,
      updated_at: t,
      managed_by: 'console',
    },
    apiKeys: [],
    members: [],
    invitations: [],
    spendingLimitCents: null,
    vpcEndpoints: new Map(),
    projectLimit: fields.projectLimit,
  };
  accountStore(fake).orgs.set(id, org);
  addMember(org, 'ada@example.com', 'admin');
  return org;
}

export function addMember(org: FakeOrg, email: string, role: string): Json {
  const member = {
    id: randomUUID(),
    user_id: randomUUID(),
    org_id: org.org.id,
    role,
    joined_at: new Date(Date.now() + org.members.length).toISOString(),
  };
  org.members.push({ member, user: { email, has_mfa: false } });
  return member;
}

export interface StoredObject {
  data: Uint8Array;
  last_modified: string;
  etag: string;
}
export interface StoredFunction extends Json {
  slug: string;
  branch_id: string;
  deployments: Json[];
  /** GETs of the function still to answer the newest deployment as `building`. */
  buildPolls: number;
  /** When set, the newest deployment fails with this error once built. */
  failBuild?: string;
}

/** Per-test state of the branch features, keyed by branch ID where it belongs to a branch. */
export interface FeatureStore {
  snapshots: Map<string, Json>;
  schedules: Map<string, Json[]>;
  anonymized: Map<string, { status: Json; rules: Json[]; polls: number }>;
  dataApis: Map<string, Json>;
  /** Branches with storage; others answer 404 with reason `org_not_entitled`. */
  storageBranches: Set<string>;
  buckets: Map<string, Map<string, { bucket: Json; objects: Map<string, StoredObject> }>>;
  credentials: Map<string, Json[]>;
  functions: Map<string, StoredFunction>;
  gatewayBranches: Set<string>;
  /** Multipart deployment bodies as received, for assertions. */
  deploymentForms: { slug: string; fields: Record<string, string>; zip?: Uint8Array }[];
  /** Polls of anonymization status that still answer `anonymizing`. */
  anonymizePolls: number;
}

const featureStores = new WeakMap<NeonFake, FeatureStore>();
export function features(fake: NeonFake): FeatureStore {
  let s = featureStores.get(fake);
  if (!s) {
    s = {
      snapshots: new Map(),
      schedules: new Map(),
      anonymized: new Map(),
      dataApis: new Map(),
      storageBranches: new Set(),
      buckets: new Map(),
      credentials: new Map(),
      functions: new Map(),
      gatewayBranches: new Set(),
      deploymentForms: [],
      anonymizePolls: 1,
    };
    featureStores.set(fake, s);
  }
  return s;
}

/** Seeds an object in a bucket (creating the bucket) on a branch with storage. */
export function seedObject(
  fake: NeonFake,
  branchId: string,
  bucket: string,
  key: string,
  data: string | Uint8Array,
) {
  const s = features(fake);
  s.storageBranches.add(branchId);
  const perBranch = s.buckets.get(branchId) ?? new Map();
  s.buckets.set(branchId, perBranch);
  const b = perBranch.get(bucket) ?? {
    bucket: { name: bucket, access_level: 'private', created_at: new Date().toISOString() },
    objects: new Map(),
  };
  perBranch.set(bucket, b);
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  b.objects.set(key, {
    data: bytes,
    last_modified: new Date().toISOString(),
    etag: createHash('md5').update(bytes).digest('hex'),
  });
}
