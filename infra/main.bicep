// WhatsApp Archiver: the whole deployment into one resource group.
//
//   az deployment group create --resource-group <rg> \
//     --template-file infra/main.bicep --parameters @infra/main.parameters.json
//
// One user-assigned managed identity does everything (storage, Key Vault, Application Insights,
// Microsoft Graph); no connection string, account key or secret appears in the template or in the
// app settings. After deployment: grant Graph access (infra/graph-access/), put the feed token
// into Key Vault, publish the code, upload the mapping file (docs/deploy.md).

targetScope = 'resourceGroup'

@description('Azure region for every resource (Flex Consumption must be available there).')
param location string = resourceGroup().location

@description('Short prefix of every resource name (letters, digits, hyphens).')
@minLength(2)
@maxLength(11)
param namePrefix string = 'wa-archiver'

@description('E-mail address that receives the alerts.')
param alertEmail string

@description('Base URL of the capture feed API (https).')
param feedBaseUrl string

@description('Name of the Key Vault secret holding the feed\'s bearer token (set after deployment).')
param feedTokenSecretName string = 'feed-token'

@description('json: Graph v1.0 JSON create (needs Mail.ReadWrite); import_mime: beta importMime (also needs Mail-Advanced.ReadWrite.All).')
@allowed([
  'json'
  'import_mime'
])
param graphCreateMode string = 'json'

@description('NCRONTAB (6 fields, UTC) of the daily pull.')
param pullSchedule string = '0 0 2 * * *'

@description('NCRONTAB (6 fields, UTC) of the daily admin report (after the pull has drained).')
param reportSchedule string = '0 0 6 * * *'

@description('Folder created at the root of each archived mailbox.')
param archiveFolderName string = 'WhatsApp Archiver'

@description('Region for national-format phone numbers in the feed and the mapping file.')
param defaultPhoneRegion string = 'US'

@description('IANA time zone shown beside UTC in the records.')
param displayTimezone string = 'UTC'

@description('IANA time zone assumed for the wall-clock times of WhatsApp "Export chat" files (EXPORT_TIMEZONE).')
param exportTimezone string = 'UTC'

@description('Create the Event Grid subscription that runs import_export for files dropped in imports/. Deploy once with false, publish the code (the blobs_extension key exists only then), then deploy again with true.')
param importsSubscription bool = false

@description('Transcript mode: one record per conversation per capture day per mailbox instead of one per item.')
param transcriptMode bool = false

@description('NCRONTAB (6 fields, UTC) of the transcript build (transcript mode only; after the pull has been converted, before the report).')
param transcriptSchedule string = '0 0 4 * * *'

@description('Days the daily admin reports are kept.')
param reportRetentionDays int = 90

@description('Days after which evidence (raw/, attachments/, mime/, evidence/) may be deleted; never before immutabilityDays.')
@minValue(1)
@maxValue(3650)
param retentionDays int = 90

@description('Days each evidence blob (raw, attachments, mime, evidence) stays non-rewriteable and non-erasable (2557 = 7 years). Deployed unlocked; lock per docs/evidence.md.')
@minValue(1)
@maxValue(146000)
param immutabilityDays int = 2557

@description('true once the evidence retention policies are locked (docs/evidence.md); redeployments then leave them as they are.')
param immutabilityPolicyLocked bool = false

@description('NCRONTAB (6 fields, UTC) of verify_evidence: the last 7 days\' evidence against storage and Graph (weekly).')
param verifySchedule string = '0 0 7 * * 0'

@description('Storage replication.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_GRS'

@description('Failed delivery attempts in one hour above which an alert fires.')
@minValue(0)
param deliveryFailureThreshold int = 5

@description('Flex Consumption: most instances the app scales out to (40-1000; 40 is the platform\'s lowest maximum, see modules/functionapp.bicep).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: memory per instance (MB).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Concurrent Graph requests per mailbox across all instances (MAILBOX_CONCURRENCY; Exchange allows 4).')
@minValue(1)
@maxValue(4)
param mailboxConcurrency int = 4

@description('container/path of the user-mapping CSV (MAPPING_BLOB).')
param mappingBlob string = 'config/user-mapping.csv'

@description('Microsoft Graph root (GRAPH_ENDPOINT; national clouds differ).')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('More app settings, as [{ name: ..., value: ... }]: names the code reads (local.settings.example.json).')
param extraAppSettings array = []

@description('Change (any new text) to get a new Key Vault name: a purge-protected vault deleted with its resource group keeps its name for softDeleteRetentionInDays (90) days. Or recover it instead (docs/deploy.md, "Redeploying after a teardown").')
param keyVaultNameSalt string = ''

@description('Optional: object id of the operator (user or group) allowed to set the feed token and upload the mapping file.')
param operatorPrincipalId string = ''

@description('Principal type of operatorPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param operatorPrincipalType string = 'User'

@description('WhatsApp Cloud API webhooks (issue 9): capture WhatsApp Business numbers from Meta\'s webhooks. Off by default.')
param whatsappEnabled bool = false

@description('Meta Graph API root with its version, for WhatsApp media downloads (WHATSAPP_GRAPH_BASE_URL).')
param whatsappGraphBaseUrl string = 'https://graph.facebook.com/v26.0'

@description('Largest webhook POST body accepted, in bytes (WHATSAPP_MAX_BODY_BYTES; Meta sends up to 3 MB).')
@minValue(65536)
@maxValue(67108864)
param whatsappMaxBodyBytes int = 4194304

@secure()
@description('Meta app\'s App Secret (WHATSAPP_APP_SECRET). May stay empty here and be set in Key Vault afterwards.')
param whatsappAppSecret string = ''

@secure()
@description('Webhook verify token (WHATSAPP_VERIFY_TOKEN): any random string, typed again in the Meta app\'s Webhooks page.')
param whatsappVerifyToken string = ''

@secure()
@description('System-user access token for media downloads (WHATSAPP_ACCESS_TOKEN).')
param whatsappAccessToken string = ''

@description('Tags for every resource.')
param tags object = {
  workload: 'whatsapp-archiver'
}

var token = uniqueString(resourceGroup().id, namePrefix)
var compactPrefix = take(toLower(replace(namePrefix, '-', '')), 9)
var names = {
  identity: 'id-${namePrefix}'
  storage: 'st${compactPrefix}${token}'
  keyVault: 'kv-${take(compactPrefix, 7)}-${take(empty(keyVaultNameSalt) ? token : uniqueString(resourceGroup().id, namePrefix, keyVaultNameSalt), 12)}'
  logAnalytics: 'log-${namePrefix}'
  appInsights: 'appi-${namePrefix}'
  plan: 'plan-${namePrefix}'
  functionApp: 'func-${namePrefix}-${token}'
  deploymentContainer: 'deploymentpackage'
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    location: location
    name: names.identity
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    location: location
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    location: location
    name: names.storage
    skuName: storageSkuName
    retentionDays: retentionDays
    immutabilityDays: immutabilityDays
    immutabilityPolicyLocked: immutabilityPolicyLocked
    deploymentContainerName: names.deploymentContainer
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    location: location
    name: names.keyVault
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    operatorPrincipalId: operatorPrincipalId
    operatorPrincipalType: operatorPrincipalType
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    location: location
    name: names.functionApp
    planName: names.plan
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    blobEndpoint: storage.outputs.blobEndpoint
    queueEndpoint: storage.outputs.queueEndpoint
    tableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: names.deploymentContainer
    appInsightsConnectionString: monitoring.outputs.connectionString
    keyVaultName: keyVault.outputs.name
    feedTokenSecretName: feedTokenSecretName
    feedBaseUrl: feedBaseUrl
    graphCreateMode: graphCreateMode
    pullSchedule: pullSchedule
    reportSchedule: reportSchedule
    archiveFolderName: archiveFolderName
    defaultPhoneRegion: defaultPhoneRegion
    displayTimezone: displayTimezone
    transcriptMode: transcriptMode
    transcriptSchedule: transcriptSchedule
    reportRetentionDays: reportRetentionDays
    verifySchedule: verifySchedule
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    mailboxConcurrency: mailboxConcurrency
    mappingBlob: mappingBlob
    graphEndpoint: graphEndpoint
    extraAppSettings: extraAppSettings
    exportTimezone: exportTimezone
    whatsappEnabled: whatsappEnabled
    whatsappGraphBaseUrl: whatsappGraphBaseUrl
    whatsappMaxBodyBytes: whatsappMaxBodyBytes
    tags: tags
  }
  dependsOn: [
    rbac
    whatsapp
  ]
}

module imports 'modules/imports.bicep' = {
  name: 'imports'
  params: {
    location: location
    storageAccountName: storage.outputs.name
    functionAppName: functionApp.outputs.name
    subscribe: importsSubscription
    tags: tags
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    location: location
    namePrefix: namePrefix
    alertEmail: alertEmail
    appInsightsId: monitoring.outputs.appInsightsId
    workspaceId: monitoring.outputs.workspaceId
    deliveryFailureThreshold: deliveryFailureThreshold
    tags: tags
  }
  // After the storage module's queue diagnostic setting, which the poison-queue alert reads.
  dependsOn: [
    storage
  ]
}

module whatsapp 'modules/whatsapp.bicep' = if (whatsappEnabled) {
  name: 'whatsapp'
  params: {
    location: location
    namePrefix: namePrefix
    keyVaultName: keyVault.outputs.name
    appSecret: whatsappAppSecret
    verifyToken: whatsappVerifyToken
    accessToken: whatsappAccessToken
    appInsightsId: monitoring.outputs.appInsightsId
    actionGroupId: alerts.outputs.actionGroupId
    tags: tags
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    location: location
    appInsightsId: monitoring.outputs.appInsightsId
    workspaceId: monitoring.outputs.workspaceId
    tags: tags
  }
}

@description('Client id of the archiver\'s managed identity (GRAPH_CLIENT_ID; Exchange New-ServicePrincipal -AppId).')
output identityClientId string = identity.outputs.clientId

@description('Object (principal) id of the identity\'s service principal (Graph appRoleAssignments; New-ServicePrincipal -ObjectId).')
output identityPrincipalId string = identity.outputs.principalId

@description('Function App name (az functionapp deploy --name).')
output functionAppName string = functionApp.outputs.name

@description('Host name of the Function App (https://<functionAppHostName>/admin/...; Flex apps may get a unique default host name, never build it from the app name).')
output functionAppHostName string = functionApp.outputs.defaultHostName

@description('Storage account name (AzureWebJobsStorage__accountName for the CLI: mapping upload, redrive).')
output storageAccountName string = storage.outputs.name

@description('Key Vault name (az keyvault secret set --vault-name).')
output keyVaultName string = keyVault.outputs.name

@description('Name of the feed token secret to set in the Key Vault.')
output feedTokenSecretName string = feedTokenSecretName

@description('Application Insights name (Logs, Transaction search, the workbook).')
output appInsightsName string = monitoring.outputs.appInsightsName

@description('WhatsApp webhooks: the callback URL to paste into the Meta app\'s Webhooks page (with the verify token).')
output whatsappCallbackUrl string = 'https://${functionApp.outputs.defaultHostName}/api/whatsapp/webhook'
