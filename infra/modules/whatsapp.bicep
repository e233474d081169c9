// WhatsApp Business numbers captured straight from Meta's webhooks (Cloud API and coexistence).
//
// Deployed only when main.bicep's whatsappEnabled is true. The webhooks container, queue (+poison)
// and whatsappstate table are in storage.bicep with the other names the code uses; the app
// settings (Key Vault references) are in functionapp.bicep. Here: the three secrets the references
// point at, and the alert an admin needs at once when Meta stops sending a number's messages.
//
// A secret is written only when its parameter is given. ARM PUTs a vaults/secrets resource on every
// deployment (a changed value is stored as a new current version, Azure/azure-resource-manager-schemas#1494),
// so an unconditional secret would put the deployment's value back over one set or rotated since with
// `az keyvault secret set` (docs/capture-whatsapp-cloud-api.md), on every later deployment that omits it,
// e.g. the second one that turns on importsSubscription; and Key Vault refuses an empty value
// ("An invalid value was provided for 'value'", Azure/azure-quickstart-templates#6235).

@description('Azure region of the alert rule.')
param location string

@description('Name prefix of the alert rule.')
param namePrefix string

@description('Key Vault that holds the secrets (the app reads them through Key Vault references).')
param keyVaultName string

@secure()
@description('Meta app\'s App Secret (verifies X-Hub-Signature-256). Empty: the secret is left as it is in Key Vault (create or rotate it there: docs/capture-whatsapp-cloud-api.md).')
param appSecret string = ''

@secure()
@description('The verify token typed in the Meta app\'s Webhooks page. Empty: left as it is in Key Vault.')
param verifyToken string = ''

@secure()
@description('System-user access token (whatsapp_business_messaging) for media downloads. Empty: left as it is in Key Vault.')
param accessToken string = ''

@description('Resource id of Application Insights (where archiver.whatsapp.capture_gap is logged).')
param appInsightsId string

@description('Action group of the other alerts.')
param actionGroupId string

@description('Tags for every resource.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(appSecret)) {
  // checkov:skip=CKV_AZURE_114:contentType is set (text/plain) below; checkov 3.3 does not read the body of a conditional (= if ...) resource
  // checkov:skip=CKV_AZURE_41:Meta's App Secret and tokens have no expiry of their own; they are rotated in the Meta app, then here
  parent: vault
  name: 'whatsapp-app-secret'
  tags: tags
  properties: {
    value: appSecret
    contentType: 'text/plain'
  }
}

resource verifyTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(verifyToken)) {
  // checkov:skip=CKV_AZURE_114:contentType is set (text/plain) below; checkov 3.3 does not read the body of a conditional (= if ...) resource
  // checkov:skip=CKV_AZURE_41:Same reason as whatsapp-app-secret: rotated by hand with the Meta app's settings
  parent: vault
  name: 'whatsapp-verify-token'
  tags: tags
  properties: {
    value: verifyToken
    contentType: 'text/plain'
  }
}

resource accessTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(accessToken)) {
  // checkov:skip=CKV_AZURE_114:contentType is set (text/plain) below; checkov 3.3 does not read the body of a conditional (= if ...) resource
  // checkov:skip=CKV_AZURE_41:A system-user token is long-lived by design; it is rotated in Meta Business Settings, then here
  parent: vault
  name: 'whatsapp-access-token'
  tags: tags
  properties: {
    value: accessToken
    contentType: 'text/plain'
  }
}

var captureGapQuery = '''
traces
| where message == "archiver.whatsapp.capture_gap"
| where tostring(customDimensions.stopped) =~ "true"
| extend Number = tostring(customDimensions.wa_number), Reason = tostring(customDimensions.wa_reason)
| summarize Gaps = count() by Number, Reason
'''

resource captureGapAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: '${namePrefix}-whatsapp-capture-stopped'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'Archiver: WhatsApp capture stopped for a business number'
    description: 'Meta sent account_update (PARTNER_REMOVED, ACCOUNT_OFFBOARDED, ...) for a coexistence number: nothing it sends or receives is archived until it is onboarded again. The daily report names the number, the reason and since when; see docs/capture-whatsapp-cloud-api.md.'
    severity: 1
    enabled: true
    scopes: [
      appInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: captureGapQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'Gaps'
          dimensions: [
            {
              name: 'Number'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'Reason'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroupId
      ]
    }
  }
}

output alertRuleName string = captureGapAlert.name
