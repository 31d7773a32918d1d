// The second IAM evaluator: @cloud-copilot/iam-simulate, fed the same requests as
// claw_spec::eval. Reads one JSON document on stdin:
//   { "policy": {...}, "principal": "arn:…", "requests": [
//       { "action": "iam:CreateRole", "resource": "arn:…", "account": "123456789012",
//         "context": { "iam:PermissionsBoundary": "arn:…", "aws:TagKeys": ["a"] } } ] }
// and prints one JSON array: per request { "allowed": bool, "result": "...",
// "ignored": [context keys the simulator dropped as not applying to the action],
// "error": "..." } (error only when the simulator refused the request).
//
// runSimulation first checks the request against the simulator's copy of the
// Service Authorization Reference. That copy merges API Gateway V1 and V2 (both
// use the `apigateway` prefix) and keeps V1's resource types, so an HTTP API ARN
// (/apis/…) fits none of them ("no.resource.types"): for those requests only, the
// verdict comes from runUnsafeSimulation, the same policy evaluation without that
// check, and "unchecked" says so.
import { runSimulation, runUnsafeSimulation } from '@cloud-copilot/iam-simulate'

const chunks = []
for await (const c of process.stdin) chunks.push(c)
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))

const out = []
for (const r of input.requests) {
  const sim = {
    request: {
      principal: input.principal,
      action: r.action,
      resource: { resource: r.resource, accountId: r.account },
      contextVariables: r.context,
    },
    identityPolicies: [{ name: 'deployer', policy: input.policy }],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  }
  try {
    const res = await runSimulation(sim, {})
    if (res.resultType === 'error' && res.errors.message === 'no.resource.types' && r.action.startsWith('apigateway:')) {
      const result = runUnsafeSimulation(sim, {})
      out.push({ allowed: result === 'Allowed', result, ignored: [], unchecked: res.errors.message })
    } else if (res.resultType === 'error') {
      out.push({ allowed: false, result: 'error', ignored: [], error: JSON.stringify(res.errors) })
    } else if (res.resultType === 'single') {
      out.push({
        allowed: res.overallResult === 'Allowed',
        result: res.overallResult,
        ignored: res.result.ignoredContextKeys ?? [],
      })
    } else {
      out.push({
        allowed: res.overallResult === 'Allowed',
        result: `${res.resultType}:${res.overallResult}`,
        ignored: [],
      })
    }
  } catch (e) {
    out.push({ allowed: false, result: 'exception', ignored: [], error: String(e) })
  }
}
process.stdout.write(JSON.stringify(out))
