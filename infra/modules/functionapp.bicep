// The Function App: Flex Consumption (FC1), Python 3.11, running as the user-assigned identity.
// Storage is identity-based (AzureWebJobsStorage__*, no connection string and no key), the code
// package lives in a blob container reached with the same identity, telemetry goes to
// Application Insights with Entra auth, and the feed token is a Key Vault reference.
//
// Every app setting below is a name the code reads (shared/settings.py) or a platform setting;
// tests/infra checks both lists.

@description('Azure region.')
param location string

@description('Function App name (globally unique host name).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Resource id of the user-assigned managed identity.')
param identityId string

@description('Client id of the user-assigned managed identity.')
param identityClientId string

@description('Storage account name (identity-based AzureWebJobsStorage).')
param storageAccountName string

@description('Blob endpoint of the storage account, ending in /.')
param blobEndpoint string

@description('Queue endpoint of the storage account, ending in /.')
param queueEndpoint string

@description('Table endpoint of the storage account, ending in /.')
param tableEndpoint string

@description('Blob container holding the deployment package.')
param deploymentContainerName string

@description('Application Insights connection string (not a secret: local auth is disabled).')
param appInsightsConnectionString string

@description('Key Vault holding the feed token.')
param keyVaultName string

@description('Name of the feed token secret in Key Vault.')
param feedTokenSecretName string

@description('Base URL of the capture feed API (https).')
param feedBaseUrl string

@description('json: v1.0 JSON create (Mail.ReadWrite); import_mime: beta importMime (also Mail-Advanced.ReadWrite.All).')
@allowed([
  'json'
  'import_mime'
])
param graphCreateMode string = 'json'

@description('Microsoft Graph root (national clouds differ).')
param graphEndpoint string = 'https://graph.microsoft.com'

@description('NCRONTAB (6 fields, UTC) of the daily pull.')
param pullSchedule string = '0 0 2 * * *'

@description('NCRONTAB (6 fields, UTC) of the daily admin report.')
param reportSchedule string = '0 0 6 * * *'

@description('Folder created at the root of each archived mailbox.')
param archiveFolderName string = 'WhatsApp Archiver'

@description('Region for national-format phone numbers (two letters).')
param defaultPhoneRegion string = 'US'

@description('IANA time zone shown beside UTC in the records.')
param displayTimezone string = 'UTC'

@description('Transcript mode: one record per conversation per capture day per mailbox (see main.bicep).')
param transcriptMode bool = false

@description('NCRONTAB (6 fields, UTC) of the transcript build (transcript mode only).')
param transcriptSchedule string = '0 0 4 * * *'

@description('NCRONTAB (6 fields, UTC) of the weekly evidence verification (verify_evidence).')
param verifySchedule string = '0 0 7 * * 0'

@description('Days the daily reports are kept.')
param reportRetentionDays int = 90

@description('Concurrent Graph requests per mailbox across all instances (Exchange allows 4).')
@minValue(1)
@maxValue(4)
param mailboxConcurrency int = 4

@description('container/path of the user-mapping CSV.')
param mappingBlob string = 'config/user-mapping.csv'

// Flex Consumption's lowest maximum instance count is 40 (Learn: event-driven scaling, "Limit
// scale-out"; the quickstart function-app-flex-managed-identities declares @minValue(40)). Later
// Learn text lowers the floor to 1; 40 is accepted under both, so it is the floor here.
@description('Flex Consumption: most instances the app scales out to (40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('Flex Consumption: memory per instance.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('IANA time zone assumed for WhatsApp "Export chat" files (EXPORT_TIMEZONE).')
param exportTimezone string = 'UTC'
@description('WhatsApp Cloud API webhooks (issue 9): on = the WHATSAPP_ settings below are set (their secrets must exist in Key Vault).')
param whatsappEnabled bool = false

@description('Meta Graph API root with its version, for WhatsApp media downloads.')
param whatsappGraphBaseUrl string = 'https://graph.facebook.com/v26.0'

@description('Largest webhook POST body accepted, in bytes (Meta sends up to 3 MB).')
param whatsappMaxBodyBytes int = 4194304

@description('More app settings, as [{ name, value }] (names the code reads; see local.settings.example.json).')
param extraAppSettings array = []

@description('Tags for every resource.')
param tags object = {}

var appSettings = [
  // Host storage, identity-based. No plain AzureWebJobsStorage: an empty one beside these breaks deployment.
  { name: 'AzureWebJobsStorage__accountName', value: storageAccountName }
  { name: 'AzureWebJobsStorage__blobServiceUri', value: blobEndpoint }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: queueEndpoint }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: tableEndpoint }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  // Telemetry: Entra-authenticated ingestion as the identity (local auth is disabled).
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'Authorization=AAD;ClientId=${identityClientId}' }
  // Capture feed.
  { name: 'FEED_BASE_URL', value: feedBaseUrl }
  { name: 'FEED_TOKEN', value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${feedTokenSecretName})' }
  // Schedules read by the timer triggers (%PULL_SCHEDULE%, %TRANSCRIPT_SCHEDULE%, %REPORT_SCHEDULE%).
  { name: 'PULL_SCHEDULE', value: pullSchedule }
  { name: 'TRANSCRIPT_SCHEDULE', value: transcriptSchedule }
  { name: 'REPORT_SCHEDULE', value: reportSchedule }
  { name: 'VERIFY_SCHEDULE', value: verifySchedule }
  // Microsoft Graph, as the identity.
  { name: 'GRAPH_ENDPOINT', value: graphEndpoint }
  { name: 'GRAPH_CREATE_MODE', value: graphCreateMode }
  { name: 'GRAPH_CLIENT_ID', value: identityClientId }
  { name: 'AZURE_CLIENT_ID', value: identityClientId }
  { name: 'ARCHIVE_FOLDER_NAME', value: archiveFolderName }
  { name: 'MAILBOX_CONCURRENCY', value: string(mailboxConcurrency) }
  // Mapping, records, report.
  { name: 'MAPPING_BLOB', value: mappingBlob }
  { name: 'DEFAULT_PHONE_REGION', value: defaultPhoneRegion }
  { name: 'DISPLAY_TIMEZONE', value: displayTimezone }
  { name: 'TRANSCRIPT_MODE', value: transcriptMode ? 'true' : 'false' }
  { name: 'REPORT_RETENTION_DAYS', value: string(reportRetentionDays) }
  // Chat-export imports (import_export, blob trigger on imports/).
  { name: 'EXPORT_TIMEZONE', value: exportTimezone }
]

// WhatsApp webhooks: the three secrets are Key Vault references (whatsapp.bicep creates the secrets).
var whatsappAppSettings = [
  { name: 'WHATSAPP_APP_SECRET', value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=whatsapp-app-secret)' }
  { name: 'WHATSAPP_VERIFY_TOKEN', value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=whatsapp-verify-token)' }
  { name: 'WHATSAPP_ACCESS_TOKEN', value: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=whatsapp-access-token)' }
  { name: 'WHATSAPP_GRAPH_BASE_URL', value: whatsappGraphBaseUrl }
  { name: 'WHATSAPP_MAX_BODY_BYTES', value: string(whatsappMaxBodyBytes) }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    // checkov:skip=CKV_AZURE_225:Zone redundancy for Flex Consumption is offered in some regions only; the pipeline is queue-driven and resumes after a zone outage
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    // checkov:skip=CKV_AZURE_222:Public network access stays enabled so that az functionapp deploy / Core Tools can publish and Meta can reach the WhatsApp webhook; the only HTTP function refuses any body without a valid Meta signature and basic publishing credentials are disabled
    // checkov:skip=CKV_AZURE_17:The only HTTP function is Meta's webhook; Meta presents no client certificate, it signs each body (X-Hub-Signature-256) instead
    // checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero by design; queue work survives an instance loss and is retried
    // checkov:skip=CKV_AZURE_78:Flex Consumption rejects siteConfig.ftpsState (ARM BadRequest 51021: 'The following ... site configuration properties (Site.SiteConfig.FtpsState, ...) for Flex Consumption sites is invalid'); FTP publishing is off through basicPublishingCredentialsPolicies ftp allow false below
    // checkov:skip=CKV_AZURE_213:No health endpoint to probe (the one HTTP function is Meta's signed webhook); the no-pull, poison-queue and capture-gap alerts watch health instead
    serverFarmId: plan.id
    httpsOnly: true
    clientCertEnabled: false
    keyVaultReferenceIdentity: identityId
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      // No ftpsState: Flex Consumption sites reject it (see the CKV_AZURE_78 skip above).
      http20Enabled: true
      appSettings: concat(appSettings, whatsappEnabled ? whatsappAppSettings : [], extraAppSettings)
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// No basic (publishing-profile) credentials: publishing uses Entra ID (az functionapp deploy, Core Tools).
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output id string = site.id
output name string = site.name
output defaultHostName string = site.properties.defaultHostName
