import { Aws } from "aws-cdk-lib"
import * as iam from "aws-cdk-lib/aws-iam"
import { bedrockModel } from "./config.js"

/**
 * What the consumer needs to invoke the configured model (`bedrockModelId`), and nothing else:
 * - a foundation model id (`anthropic.claude-…`): that model in the stack's Region;
 * - a geographic cross-Region inference profile (`us.`, `eu.`, `apac.`, … `anthropic.claude-…`): the profile in the
 *   stack's Region, and its foundation model in whichever Region the profile routes the call to. Those Regions are
 *   the profile's, not the stack's, and AWS adds to them over time, so the model's ARN has a `*` Region, allowed only
 *   for calls made through this one profile (`bedrock:InferenceProfileArn`).
 */
export const invokeModelStatements = (modelId: string): ReadonlyArray<iam.PolicyStatement> => {
  const { profile, foundationModel } = bedrockModel(modelId)
  if (profile === undefined) {
    return [
      new iam.PolicyStatement({
        sid: "InvokeConfiguredModel",
        actions: ["bedrock:InvokeModel"],
        resources: [`arn:${Aws.PARTITION}:bedrock:${Aws.REGION}::foundation-model/${foundationModel}`]
      })
    ]
  }
  const profileArn = `arn:${Aws.PARTITION}:bedrock:${Aws.REGION}:${Aws.ACCOUNT_ID}:inference-profile/${profile}`
  return [
    new iam.PolicyStatement({
      sid: "InvokeConfiguredModel",
      actions: ["bedrock:InvokeModel"],
      resources: [profileArn]
    }),
    new iam.PolicyStatement({
      sid: "InvokeModelThroughProfile",
      actions: ["bedrock:InvokeModel"],
      resources: [`arn:${Aws.PARTITION}:bedrock:*::foundation-model/${foundationModel}`],
      conditions: { StringEquals: { "bedrock:InferenceProfileArn": profileArn } }
    })
  ]
}
