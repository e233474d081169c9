// The archiver's storage account: identity-only access (no account keys), TLS 1.2, HTTPS only,
// no public blobs, soft delete + versioning, every container, queue (with its -poison twin) and
// table the code uses, and the evidence store: the containers holding evidence (raw, attachments,
// mime, evidence) carry version-level immutability with a time-based retention policy
// (immutabilityDays, unlocked as deployed; lock it with the step in docs/evidence.md), and the
// lifecycle rules never delete evidence before that retention ends (they tier it to cool).
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

@description('Days after which evidence (raw/, attachments/, mime/, evidence/) may be deleted by the lifecycle rule; it never deletes before immutabilityDays, whichever is longer applies.')
@minValue(1)
@maxValue(3650)
param retentionDays int = 90

@description('Days each evidence blob version is non-rewriteable and non-erasable (time-based retention, version-level immutability). 2557 = 7 years (SEC 17a-4(f), FINRA 4511: 6; CFTC 1.31: 5; MiFID II: 5-7).')
@minValue(1)
@maxValue(146000)
param immutabilityDays int = 2557

@description('Set to true once the policies are locked (docs/evidence.md): a locked policy cannot be re-deployed, only extended with az.')
param immutabilityPolicyLocked bool = false

@description('Days after the last write when evidence moves to the cool tier (still online: verify reads it).')
@minValue(1)
@maxValue(3650)
param coolAfterDays int = 30

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
  'evidence'
  'imports'
  'webhooks'
]
// Containers holding evidence: version-level immutability + time-based retention (names.EVIDENCE_CONTAINERS).
var evidenceContainerNames = [
  'raw'
  'attachments'
  'mime'
  'evidence'
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
    // set at creation only (an existing container needs Azure's migration to version-level immutability)
    immutableStorageWithVersioning: {
      enabled: contains(evidenceContainerNames, containerName)
    }
  }
}]

// The time-based retention policy of each evidence container, applied to every blob version in it.
// Deployed unlocked (it can still be shortened or removed while the firm tests); locking it is a
// one-way step (docs/evidence.md): then it can only be extended, never shortened or deleted.
// Sources: Learn, template reference containers/immutabilityPolicies@2023-05-01 (name 'default',
// immutabilityPeriodSinceCreationInDays, allowProtectedAppendWrites[All]); Learn, "Configure
// immutability policies for blob versions": on a container with version-level immutability this
// policy is the default one for every blob version in it.
resource immutabilityPolicies 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2023-05-01' = [for containerName in evidenceContainerNames: if (!immutabilityPolicyLocked) {
  name: '${account.name}/default/${containerName}/default'
  properties: {
    immutabilityPeriodSinceCreationInDays: immutabilityDays
    allowProtectedAppendWrites: false
    allowProtectedAppendWritesAll: false
  }
  dependsOn: [
    containers
  ]
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

// Evidence tiers to cool, and is deleted (its current version, then the previous version that
// delete leaves) only once both retentionDays and the immutability period have passed (Azure
// refuses to delete a blob version under retention or legal hold anyway). Previous versions are
// pruned after previousVersionRetentionDays only outside the evidence containers.
// version.delete in evidence-retention: with versioning on, deleting a blob only turns its current
// version into a previous version ("When you delete a blob, the current version of the blob becomes
// a previous version", Learn: Blob versioning, versioning-overview), and expire-previous-versions
// leaves these containers out, so without it the evidence was never removed. A version's creation
// time is when it was written, so it goes on the lifecycle run after the baseBlob delete.
// Shapes: Learn, Microsoft.Storage storageAccounts/managementPolicies (baseBlob.tierToCool/delete
// .daysAfterModificationGreaterThan, version.delete.daysAfterCreationGreaterThan; a prefixMatch
// entry starts with the container name).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'evidence-retention'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                'raw/'
                'attachments/'
                'mime/'
                'evidence/'
              ]
            }
            actions: {
              baseBlob: {
                tierToCool: {
                  daysAfterModificationGreaterThan: coolAfterDays
                }
                delete: {
                  daysAfterModificationGreaterThan: max(retentionDays, immutabilityDays)
                }
              }
              // the previous version that baseBlob.delete leaves (see above the resource)
              version: {
                delete: {
                  daysAfterCreationGreaterThan: max(retentionDays, immutabilityDays)
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
              prefixMatch: [
                'config/'
                'reports/'
                'rejected/'
                'unmapped/'
                'locks/'
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
output evidenceContainerNames array = evidenceContainerNames
output queueNames array = queueNames
output tableNames array = tableNames
