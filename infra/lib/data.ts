import { Duration, Fn, Names, RemovalPolicy, SecretValue } from "aws-cdk-lib"
import * as ec2 from "aws-cdk-lib/aws-ec2"
import * as elasticache from "aws-cdk-lib/aws-elasticache"
import * as iam from "aws-cdk-lib/aws-iam"
import * as logs from "aws-cdk-lib/aws-logs"
import * as rds from "aws-cdk-lib/aws-rds"
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager"
import { Construct } from "constructs"
import { isCompleteSecretArn, type StackConfig } from "./config.js"
import type { Network } from "./network.js"

/** A secret a program reads: its id in AWS_SECRETS_IDS, and the resource naming it in its readers' IAM statements. */
export interface ReadableSecret {
  readonly id: string
  readonly resource: string
}

/** GetSecretValue, the only action a program needs to read a secret, on exactly these secrets. */
export const readSecrets = (sid: string, secrets: ReadonlyArray<ReadableSecret>) =>
  new iam.PolicyStatement({
    sid,
    actions: ["secretsmanager:GetSecretValue"],
    resources: secrets.map((secret) => secret.resource)
  })

/** A secret of this stack: its ARN is both. */
export const readable = (secret: secretsmanager.ISecret): ReadableSecret => ({
  id: secret.secretArn,
  resource: secret.secretArn
})

/** The database the stack creates on the instance (DBName), and the one the programs use unless told otherwise. */
export const DATABASE_NAME = "revenueflow"

/**
 * Postgres, Redis and every secret the programs read through AWS_SECRETS_IDS:
 * - the RDS secret (generated, rotated by the single-user rotation function). Its JSON is the RDS format, which the
 *   programs turn into DATABASE_URL (layers/aws/SecretsConfig.ts): username, dbname and password from the secret's
 *   template and generator, engine, host and port added by the attachment to the instance (the attachment adds no
 *   dbname, and without one the programs would use the `postgres` database: the template carries it);
 * - REDIS_URL (rediss:// with the generated AUTH token), built by CloudFormation from the token secret;
 * - the webhook secret (MARKETO_WEBHOOK_TOKEN generated; HUBSPOT_APP_SECRET yours to add) and the API-key secret
 *   (INGEST_API_KEYS generated), so the API is never open, not even between the first deploy and a first fill;
 * - the CRM credentials: not the stack's. A secret you create and fill before the deploy (`crmSecretArn`), read
 *   and never written here, so no template change can reset it and the consumer starts with its credentials;
 * - for one release, the CRM secret earlier templates created (`legacyCrmSecret`), kept as it was so that upgrading
 *   a stack does not delete it: its ARN may be given as `crmSecretArn`.
 */
export class Data extends Construct {
  readonly database: rds.DatabaseInstance
  readonly databaseSecret: secretsmanager.ISecret
  readonly redis: elasticache.CfnReplicationGroup
  readonly redisToken: secretsmanager.Secret
  readonly redisUrlSecret: secretsmanager.Secret
  /** The CRM credentials secret given by `crmSecretArn` (none with the mock CRM and no ARN). */
  readonly crmSecret: ReadableSecret | undefined
  readonly webhookSecret: secretsmanager.Secret
  readonly apiKeySecret: secretsmanager.Secret
  /** The CRM secret of the templates before `crmSecretArn`, kept unchanged for one release (see LEGACY_CRM_SECRET). */
  readonly legacyCrmSecret: secretsmanager.CfnSecret

  /** The stack's own secrets the programs read, as their readers name them (both variants wire the same ones). */
  readableSecrets(): {
    readonly database: ReadableSecret
    readonly redisUrl: ReadableSecret
    readonly webhooks: ReadableSecret
    readonly apiKeys: ReadableSecret
  } {
    return {
      database: readable(this.databaseSecret),
      redisUrl: readable(this.redisUrlSecret),
      webhooks: readable(this.webhookSecret),
      apiKeys: readable(this.apiKeySecret)
    }
  }

  constructor(scope: Construct, id: string, props: { readonly config: StackConfig; readonly network: Network }) {
    super(scope, id)
    const { config, network } = props
    const isolated = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED }

    // The database the programs use is the secret's dbname: the one created here, or (programDatabase=postgres) the
    // default database where stacks deployed before the secret carried a dbname keep their tables. The instance's
    // DBName and MasterUsername stay literal: a change of either replaces the instance.
    const secret = new rds.DatabaseSecret(this, "PostgresCredentials", {
      username: "revenueflow",
      dbname: config.programDatabase
    })
    this.database = new rds.DatabaseInstance(this, "Postgres", {
      engine: rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 }),
      instanceType: new ec2.InstanceType(config.dbInstanceClass),
      vpc: network.vpc,
      vpcSubnets: isolated,
      securityGroups: [network.dbSg],
      credentials: rds.Credentials.fromSecret(secret, "revenueflow"),
      databaseName: DATABASE_NAME,
      storageEncrypted: true,
      publiclyAccessible: false,
      multiAz: config.multiAz,
      // gp3: 3,000 IOPS and 125 MiB/s at any size below 400 GiB. CDK's default, gp2, gives 3 IOPS per GiB (100 at 20
      // GiB) and bursts on credits that sustained ingest drains. Changing the type of a running instance modifies it
      // in place (CloudFormation: "Some interruptions"), not a replacement
      storageType: rds.StorageType.GP3,
      allocatedStorage: config.dbAllocatedStorageGiB,
      maxAllocatedStorage: config.dbAllocatedStorageGiB * 5,
      backupRetention: Duration.days(7),
      deletionProtection: config.deletionProtection,
      removalPolicy: RemovalPolicy.SNAPSHOT,
      cloudwatchLogsExports: ["postgresql"],
      // RDS creates the export's log group with no expiry; CDK's LogRetention sets it (creating it if need be)
      cloudwatchLogsRetention: config.logRetentionDays as logs.RetentionDays,
      // RDS for PostgreSQL 16 refuses unencrypted connections by default (rds.force_ssl = 1)
      parameters: { "rds.force_ssl": "1" }
    })
    this.databaseSecret = this.database.secret!
    // The rotation function runs in the task subnets: it needs Secrets Manager's API (through NAT) and Postgres.
    // Its group, like every other, starts with no egress: HTTPS to Secrets Manager, and Postgres (added by CDK).
    const rotationSg = new ec2.SecurityGroup(this, "RotationSg", {
      vpc: network.vpc,
      description: "RevenueFlow Postgres rotation function: to Secrets Manager and Postgres only",
      allowAllOutbound: false
    })
    rotationSg.addEgressRule(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), "HTTPS to the Secrets Manager API")
    const rotation = this.database.addRotationSingleUser({
      automaticallyAfter: Duration.days(config.rotationDays),
      // not while the stack is being created or updated: the first rotation is rotationDays after the schedule
      // exists, not in the middle of the deploy that starts the tasks
      rotateImmediatelyOnUpdate: false,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      securityGroup: rotationSg
    })
    // The rotation function (a serverless application) logs to /aws/lambda/<its name>, which Lambda creates with no
    // expiry. Its name is the last 64 characters of the rotation construct's unique id (SecretRotation, aws-cdk-lib).
    const rotationId = Names.uniqueId(rotation)
    new logs.LogRetention(this, "RotationLogRetention", {
      logGroupName: `/aws/lambda/${rotationId.slice(Math.max(0, rotationId.length - 64))}`,
      retention: config.logRetentionDays as logs.RetentionDays
    })

    // Redis AUTH token: alphanumeric so it needs no escaping in the URL; 16..128 characters are allowed.
    this.redisToken = new secretsmanager.Secret(this, "RedisAuthToken", {
      description: "RevenueFlow: ElastiCache Redis AUTH token (generated)",
      generateSecretString: {
        secretStringTemplate: "{}",
        generateStringKey: "token",
        excludePunctuation: true,
        passwordLength: 64
      }
    })
    const redisToken = this.redisToken
    const subnets = new elasticache.CfnSubnetGroup(this, "RedisSubnets", {
      description: "RevenueFlow Redis (isolated subnets)",
      subnetIds: network.vpc.isolatedSubnets.map((subnet) => subnet.subnetId)
    })
    // BullMQ must never lose a job to eviction: the default policy (volatile-lru) could drop queue keys.
    const parameters = new elasticache.CfnParameterGroup(this, "RedisParameters", {
      cacheParameterGroupFamily: "redis7",
      description: "RevenueFlow Redis: noeviction for BullMQ",
      properties: { "maxmemory-policy": "noeviction" }
    })
    this.redis = new elasticache.CfnReplicationGroup(this, "Redis", {
      replicationGroupDescription: "RevenueFlow queue (BullMQ), rate limits, idempotency, breaker",
      engine: "redis",
      engineVersion: "7.1",
      cacheNodeType: config.redisNodeType,
      clusterMode: "disabled",
      numCacheClusters: config.multiAz ? 2 : 1,
      automaticFailoverEnabled: config.multiAz,
      multiAzEnabled: config.multiAz,
      cacheSubnetGroupName: subnets.ref,
      cacheParameterGroupName: parameters.ref,
      securityGroupIds: [network.redisSg.securityGroupId],
      port: 6379,
      atRestEncryptionEnabled: true,
      transitEncryptionEnabled: true,
      authToken: redisToken.secretValueFromJson("token").unsafeUnwrap(),
      snapshotRetentionLimit: 1
    })

    // A dynamic reference, resolved by CloudFormation at deploy time: the token never appears in the template.
    this.redisUrlSecret = new secretsmanager.Secret(this, "RedisUrl", {
      description: "RevenueFlow: REDIS_URL for the programs (rediss:// with the AUTH token)",
      secretObjectValue: {
        REDIS_URL: SecretValue.unsafePlainText(
          Fn.join("", [
            "rediss://:",
            redisToken.secretValueFromJson("token").unsafeUnwrap(),
            "@",
            this.redis.attrPrimaryEndPointAddress,
            ":",
            this.redis.attrPrimaryEndPointPort
          ])
        )
      }
    })

    // Yours, not the template's: an ARN with Secrets Manager's 6-character suffix names exactly that secret; a
    // partial one (the name only) matches it in IAM only with the suffix's wildcard, as CDK's fromSecretPartialArn does
    const crm = config.crmSecretArn
    this.crmSecret =
      crm === undefined ? undefined : { id: crm, resource: isCompleteSecretArn(crm) ? crm : `${crm}-??????` }
    this.legacyCrmSecret = new secretsmanager.CfnSecret(this, "CrmCredentials", LEGACY_CRM_SECRET.properties)
    this.legacyCrmSecret.overrideLogicalId(LEGACY_CRM_SECRET.logicalId)
    // the stack's next release drops it from the template: Retain then orphans it instead of deleting it
    this.legacyCrmSecret.applyRemovalPolicy(RemovalPolicy.RETAIN)
    // Its description is the one earlier templates gave it, unchanged: an unchanged resource is not updated, and
    // this secret holds what operators added (HUBSPOT_APP_SECRET, and on older stacks INGEST_API_KEYS).
    this.webhookSecret = new secretsmanager.Secret(this, "WebhookSecrets", {
      description:
        "RevenueFlow: ingest secrets as JSON: MARKETO_WEBHOOK_TOKEN (generated), HUBSPOT_APP_SECRET, INGEST_API_KEYS",
      generateSecretString: {
        secretStringTemplate: "{}",
        generateStringKey: "MARKETO_WEBHOOK_TOKEN",
        excludePunctuation: true,
        passwordLength: 48
      }
    })
    // A secret of its own, read *before* the webhook secret (a later secret wins a key both hold): stacks deployed
    // before this secret existed keep INGEST_API_KEYS in the webhook secret, and those keys go on being the ones
    // served until they are moved here; a new stack's webhook secret has none, so the generated key is served.
    // INGEST_API_KEYS is comma-separated: the generated key has no punctuation (no comma), 48 letters and digits.
    this.apiKeySecret = new secretsmanager.Secret(this, "ApiKeys", {
      description: "RevenueFlow: INGEST_API_KEYS, comma-separated API keys of the ingest (the first one generated)",
      generateSecretString: {
        secretStringTemplate: "{}",
        generateStringKey: "INGEST_API_KEYS",
        excludePunctuation: true,
        passwordLength: 48
      }
    })
  }
}

/**
 * The CRM secret the templates before `crmSecretArn` created, filled by operators after their first deploy. Kept in
 * the template for one release with its logical id and exactly its old properties, so that upgrading such a stack
 * neither deletes it nor writes anything to it: CloudFormation updates only the resources whose properties change,
 * and a change here (say, of SecretString) would write "{}" over the credentials. What differs is only its
 * DeletionPolicy and UpdateReplacePolicy (Retain): resource attributes CloudFormation applies itself, not properties
 * of the secret. On a new stack it is an empty secret nothing reads (the stack's deletion leaves it too).
 */
export const LEGACY_CRM_SECRET = {
  logicalId: "DataCrmCredentialsCEFA338F",
  properties: {
    description:
      "RevenueFlow: CRM credentials as JSON, e.g. {SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET} or {HUBSPOT_ACCESS_TOKEN}",
    secretString: "{}"
  }
} as const
