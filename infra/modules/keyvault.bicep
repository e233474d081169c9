// Key Vault in RBAC mode with purge protection: holds the capture feed's token, which the app
// reads through a Key Vault reference (FEED_TOKEN) as its managed identity (Key Vault Secrets User).
// The deployment never sees the token: the admin sets it afterwards (docs/deploy.md).

@description('Azure region.')
param location string

@description('Key Vault name (3-24 letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Log Analytics workspace for the vault\'s audit log (who read the token, when).')
param workspaceId string

@description('Days a deleted vault or secret stays recoverable (7-90). Purge protection is always on.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Tags for every resource.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    // checkov:skip=CKV_AZURE_109:The Flex Consumption app is not VNet-integrated by default and Key Vault references are not a trusted service, so the firewall cannot default to Deny; access is RBAC-only and audited
    // checkov:skip=CKV_AZURE_189:Same reason as CKV_AZURE_109: public network access stays enabled so the app's Key Vault reference resolves; no access policies, RBAC only
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource vaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: vault
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
