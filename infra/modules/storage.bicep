// The archiver's storage account: identity-only access (no account keys), TLS 1.2, HTTPS only,
// no public blobs, soft delete + versioning, a lifecycle rule for raw captures and rendered .eml,
// and every container, queue (with its -poison twin) and table the code uses.
//
// The names below are the code's (shared/names.py); tests/infra compares the two lists.

@description('Azure region.')
param location string

@description('Storage account name (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Replication. Geo-redundant by default: this account holds a compliance archive\'s evidence chain.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_GRS'

@description('Days after which raw captures (raw/) and rendered records (mime/) are deleted. They are delivered within hours; keep them long enough to re-drive or re-render.')
@minValue(1)
@maxValue(3650)
param retentionDays int = 90

@description('Days a deleted blob or container stays recoverable (soft delete).')
@minValue(1)
@maxValue(365)
param softDeleteDays int = 14

@description('Days a previous blob version is kept before the lifecycle rule deletes it.')
@minValue(1)
@maxValue(3650)
param previousVersionRetentionDays int = 30

@description('Blob container for the Flex Consumption deployment package.')
param deploymentContainerName string

@description('Log Analytics workspace receiving queue logs and capacity metrics (poison-queue alert, queue-depth workbook).')
param workspaceId string

@description('Tags for every resource.')
param tags object = {}

// --- The code's names (shared/names.py) -----------------------------------------------------
var containerNames = [
  'raw'
  'attachments'
  'mime'
  'config'
  'reports'
  'rejected'
  'unmapped'
  'locks'
  'webhooks'
]
var queueNames = [
  'items'
  'deliveries'
  'items-poison'
  'deliveries-poison'
  'webhooks'
  'webhooks-poison'
]
var tableNames = [
  'checkpoints'
  'ledger'
  'directorycache'
  'tracking'
  'mailboxbudget'
  'whatsappstate'
]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35:The Function App (Flex Consumption, no VNet integration by default) reaches storage over the public endpoint; access is identity-only (allowSharedKeyAccess false) and RBAC-scoped
  // checkov:skip=CKV_AZURE_59:Same reason as CKV_AZURE_35: public network access stays enabled for the Functions host; no anonymous or key-based access is possible
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    isLocalUserEnabled: false
    isSftpEnabled: false
    isHnsEnabled: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: softDeleteDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for containerName in containerNames: {
  parent: blobService
  name: containerName
  properties: {
    publicAccess: 'None'
  }
}]

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for queueName in queueNames: {
  parent: queueService
  name: queueName
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for tableName in tableNames: {
  parent: tableService
  name: tableName
}]

// Raw captures and rendered records are deleted after the retention period; previous versions
// (left by overwrites and by those deletions) after their own, shorter one.
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-raw-and-mime'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'raw/'
                'mime/'
              ]
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: retentionDays
                }
              }
            }
          }
        }
        {
          name: 'expire-previous-versions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: previousVersionRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    blobService
  ]
}

// Queue request logs (who put a message into which queue: the poison-queue alert) and capacity
// metrics (QueueMessageCount: the workbook's queue depth) go to Log Analytics.
resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'queues-to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'Capacity'
        enabled: true
      }
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output containerNames array = containerNames
output queueNames array = queueNames
output tableNames array = tableNames
