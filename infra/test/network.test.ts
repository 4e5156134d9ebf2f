import { Match } from "aws-cdk-lib/assertions"
import { beforeAll, describe, expect, it } from "vitest"
import { logicalId, ofType, type Resources, synth, SYNTH_TIMEOUT_MS } from "./synth.js"

type Rule = {
  CidrIp?: string
  FromPort?: unknown
  ToPort?: unknown
  IpProtocol?: string
  SourceSecurityGroupId?: unknown
}

describe("network", { timeout: SYNTH_TIMEOUT_MS }, () => {
  let resources: Resources
  let template: ReturnType<typeof synth>["template"]
  beforeAll(() => {
    ;({ resources, template } = synth())
  }, SYNTH_TIMEOUT_MS)

  const sgId = (prefix: string) => logicalId(resources, "AWS::EC2::SecurityGroup", prefix)
  const subnetIds = (kind: string) =>
    ofType(resources, "AWS::EC2::Subnet")
      .filter(([, subnet]) =>
        (subnet.Properties!.Tags as Array<{ Key: string; Value: string }>).some(
          (tag) => tag.Key === "aws-cdk:subnet-name" && tag.Value === kind
        )
      )
      .map(([id]) => id)
  /** Ingress rules of a group: inline ones and AWS::EC2::SecurityGroupIngress resources pointing at it. */
  const ingress = (groupId: string): ReadonlyArray<Rule> => [
    ...((resources[groupId]!.Properties!.SecurityGroupIngress as Array<Rule> | undefined) ?? []),
    ...ofType(resources, "AWS::EC2::SecurityGroupIngress")
      .filter(([, rule]) => JSON.stringify(rule.Properties!.GroupId).includes(`"${groupId}"`))
      .map(([, rule]) => rule.Properties as Rule)
  ]
  const sources = (rules: ReadonlyArray<Rule>) =>
    rules.map((rule) => rule.CidrIp ?? (rule.SourceSecurityGroupId as { "Fn::GetAtt": [string] })["Fn::GetAtt"][0])

  it("runs both services in the private task subnets without public IPs", () => {
    const privateSubnets = subnetIds("tasks")
    expect(privateSubnets).toHaveLength(2)
    const services = ofType(resources, "AWS::ECS::Service")
    expect(services).toHaveLength(2)
    for (const [, service] of services) {
      const vpc = (service.Properties!.NetworkConfiguration as { AwsvpcConfiguration: Record<string, unknown> })
        .AwsvpcConfiguration
      expect(vpc.AssignPublicIp).toBe("DISABLED")
      expect((vpc.Subnets as Array<{ Ref: string }>).map((s) => s.Ref).sort()).toEqual([...privateSubnets].sort())
    }
  })

  it("keeps the public subnets for the load balancer, which assign no public IPs by default", () => {
    for (const id of subnetIds("public")) expect(resources[id]!.Properties!.MapPublicIpOnLaunch).toBe(false)
    const alb = ofType(resources, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    expect(alb).toHaveLength(1)
    expect(alb[0]![1].Properties!.Scheme).toBe("internet-facing")
    expect((alb[0]![1].Properties!.Subnets as Array<{ Ref: string }>).map((s) => s.Ref).sort()).toEqual(
      subnetIds("public").sort()
    )
  })

  it("lets the internet reach the load balancer on port 80 only (no certificate) and nothing else", () => {
    const rules = ingress(sgId("NetworkAlbSg"))
    expect(rules).toEqual([
      expect.objectContaining({ CidrIp: "0.0.0.0/0", FromPort: 80, ToPort: 80, IpProtocol: "tcp" })
    ])
  })

  it("lets only the load balancer reach the ingest, on its port", () => {
    const rules = ingress(sgId("NetworkIngestSg"))
    expect(sources(rules)).toEqual([sgId("NetworkAlbSg")])
    expect(rules[0]!.FromPort).toBe(3000)
  })

  it("gives the consumer no inbound rule at all", () => {
    expect(ingress(sgId("NetworkConsumerSg"))).toEqual([])
  })

  it("lets only the tasks (and the rotation function) reach Postgres, and only the tasks reach Redis", () => {
    const tasks = [sgId("NetworkIngestSg"), sgId("NetworkConsumerSg")].sort()
    const rotation = sgId("DataRotationSg")
    expect([...sources(ingress(sgId("NetworkDatabaseSg")))].sort()).toEqual([...tasks, rotation].sort())
    const redis = ingress(sgId("NetworkRedisSg"))
    expect([...sources(redis)].sort()).toEqual(tasks)
    for (const rule of redis) expect(rule.FromPort).toBe(6379)
  })

  it("allows no security group all outbound traffic", () => {
    for (const [, group] of ofType(resources, "AWS::EC2::SecurityGroup")) {
      for (const rule of (group.Properties!.SecurityGroupEgress as Array<Rule> | undefined) ?? []) {
        expect(rule.IpProtocol).not.toBe("-1")
      }
    }
  })

  it("health-checks the ingest on /healthz behind the load balancer", () => {
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", {
      HealthCheckPath: "/healthz",
      Port: 3000,
      TargetType: "ip"
    })
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", { Port: 80, Protocol: "HTTP" })
  })

  it("gives a starting task time to apply migrations before its health checks count (lock waits: up to 4 minutes)", () => {
    // a start may wait for another task's migration (its advisory lock, up to 120 s) and then give way to long
    // readers for up to 2 minutes: a task killed as unhealthy meanwhile starts the same wait over
    const bound = 120 + 120
    const definitions = ofType(resources, "AWS::ECS::TaskDefinition").flatMap(
      ([, task]) =>
        (task.Properties as { ContainerDefinitions: Array<{ Name: string; HealthCheck?: { StartPeriod: number } }> })
          .ContainerDefinitions
    )
    const programs = definitions.filter((container) => container.Name === "ingest" || container.Name === "consumer")
    expect(programs.map((container) => container.Name).sort()).toEqual(["consumer", "ingest"])
    for (const container of programs) expect(container.HealthCheck!.StartPeriod).toBeGreaterThan(bound)
    const ingest = ofType(resources, "AWS::ECS::Service").find(([, service]) =>
      JSON.stringify(service.Properties).includes("LoadBalancers")
    )!
    expect(
      (ingest[1].Properties as { HealthCheckGracePeriodSeconds: number }).HealthCheckGracePeriodSeconds
    ).toBeGreaterThan(bound)
  })

  it("closes idle connections before the ingest does (60 s against its KEEP_ALIVE_TIMEOUT_MS of 65 s: no 502s)", () => {
    template.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
      LoadBalancerAttributes: Match.arrayWith([{ Key: "idle_timeout.timeout_seconds", Value: "60" }])
    })
  })

  it("serves HTTPS with the given certificate and redirects HTTP when a certificate ARN is given", () => {
    const arn = "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
    const https = synth({ certificateArn: arn })
    https.template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 443,
      Protocol: "HTTPS",
      Certificates: [{ CertificateArn: arn }],
      DefaultActions: [Match.objectLike({ Type: "forward" })]
    })
    https.template.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 80,
      DefaultActions: [Match.objectLike({ Type: "redirect", RedirectConfig: Match.objectLike({ Port: "443" }) })]
    })
  })
})
