<#
.SYNOPSIS
    Scope the archiver's mailbox access to the members of one mail-enabled group, with Exchange
    Online RBAC for Applications, so its identity cannot touch any other mailbox.

.DESCRIPTION
    1. New-ServicePrincipal: an Exchange pointer to the managed identity's service principal
       (AppId = the identity's client id, ObjectId = its principal/object id).
    2. New-ManagementScope: the recipients that are members of the given mail-enabled group
       (RecipientRestrictionFilter "MemberOfGroup -eq '<group DN>'"). Direct members only: Exchange
       does not expand nested groups.
    3. New-ManagementRoleAssignment: role "Application Mail.ReadWrite" for the identity, limited to
       that scope (-CustomResourceScope).
    4. Test-ServicePrincipalAuthorization: shows InScope True for a member and False for an outsider.

    Entra ID application permissions and Exchange RBAC grants ADD UP. If the identity still holds
    Mail.ReadWrite in Entra ID (tenant-wide, admin-consented), this scope restricts nothing. Run
    grant-graph-permissions.sh with --mail-scope exchange (the default) first or afterwards: it
    grants only User.Read.All in Entra ID and removes a tenant-wide Mail.ReadWrite. In
    GRAPH_CREATE_MODE=import_mime the identity also needs Mail-Advanced.ReadWrite.All, for which
    RBAC for Applications offers no role: that one stays an Entra ID (tenant-wide) grant.

    Membership changes of the group take effect in Exchange after a delay (minutes, up to a few
    hours, of cache); Test-ServicePrincipalAuthorization may show the new state before Graph does.

    Requires the ExchangeOnlineManagement module and an Exchange Administrator (or Organization
    Management) account. Idempotent: existing objects with the same names are reused.

.EXAMPLE
    ./scope-mailboxes.ps1 -AppId <identityClientId> -ObjectId <identityPrincipalId> `
        -Group whatsapp-archived@contoso.com -MemberMailbox alice@contoso.com -OutsideMailbox ceo@contoso.com
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $AppId,

    [Parameter(Mandatory = $true)]
    [ValidatePattern('^[0-9a-fA-F-]{36}$')]
    [string] $ObjectId,

    # The mail-enabled (security or distribution) group whose members are archived.
    [Parameter(Mandatory = $true)]
    [string] $Group,

    [string] $DisplayName = 'WhatsApp Archiver',
    [string] $ScopeName = 'WhatsApp Archiver mailboxes',
    [string] $AssignmentName = 'WhatsApp Archiver - Mail.ReadWrite',

    # Optional checks: a member of the group (expected InScope True) and a non-member (expected False).
    [string] $MemberMailbox,
    [string] $OutsideMailbox,

    # Skip Connect-ExchangeOnline when the session is already connected.
    [switch] $NoConnect
)

$ErrorActionPreference = 'Stop'
$Role = 'Application Mail.ReadWrite'

if (-not $NoConnect) {
    Import-Module ExchangeOnlineManagement
    Connect-ExchangeOnline -ShowBanner:$false
}

# 1. The Exchange service principal pointing at the managed identity.
$sp = Get-ServicePrincipal -Identity $AppId -ErrorAction SilentlyContinue
if (-not $sp) {
    if ($PSCmdlet.ShouldProcess($DisplayName, 'New-ServicePrincipal')) {
        $sp = New-ServicePrincipal -AppId $AppId -ObjectId $ObjectId -DisplayName $DisplayName
    }
} else {
    Write-Host "= service principal '$($sp.DisplayName)' already registered in Exchange Online"
}

# 2. The management scope: members of the archived group.
$recipient = Get-Recipient -Identity $Group
if ($recipient.RecipientTypeDetails -notmatch 'Group') {
    throw "'$Group' is a $($recipient.RecipientTypeDetails), not a mail-enabled group"
}
$filter = "MemberOfGroup -eq '$($recipient.DistinguishedName)'"
$scope = Get-ManagementScope -Identity $ScopeName -ErrorAction SilentlyContinue
if (-not $scope) {
    if ($PSCmdlet.ShouldProcess($ScopeName, "New-ManagementScope ($filter)")) {
        $scope = New-ManagementScope -Name $ScopeName -RecipientRestrictionFilter $filter
    }
} elseif ($scope.RecipientFilter -ne $filter) {
    if ($PSCmdlet.ShouldProcess($ScopeName, "Set-ManagementScope ($filter)")) {
        Set-ManagementScope -Identity $ScopeName -RecipientRestrictionFilter $filter
    }
} else {
    Write-Host "= management scope '$ScopeName' already filters $filter"
}

# 3. The scoped role assignment.
$assignment = Get-ManagementRoleAssignment -Identity $AssignmentName -ErrorAction SilentlyContinue
if (-not $assignment) {
    if ($PSCmdlet.ShouldProcess($AssignmentName, "New-ManagementRoleAssignment $Role")) {
        New-ManagementRoleAssignment -Name $AssignmentName -Role $Role -App $AppId -CustomResourceScope $ScopeName | Out-Null
    }
} else {
    Write-Host "= role assignment '$AssignmentName' already exists (scope: $($assignment.CustomResourceScope))"
}

# Every Exchange application role the identity holds, with its scope: a Mail role scoped to the
# whole organization would widen access beyond the group.
$granted = @(Test-ServicePrincipalAuthorization -Identity $AppId)
$granted | Format-Table RoleName, GrantedPermissions, AllowedResourceScope, ScopeType
$granted | Where-Object { $_.RoleName -like 'Application Mail*' -and $_.ScopeType -eq 'Organization' } |
    ForEach-Object { Write-Warning "the identity holds '$($_.RoleName)' for the whole organization; remove that role assignment (Get-ManagementRoleAssignment / Remove-ManagementRoleAssignment)" }

# 4. Check.
if ($MemberMailbox) {
    Write-Host "Member $MemberMailbox (expected InScope True):"
    Test-ServicePrincipalAuthorization -Identity $AppId -Resource $MemberMailbox | Format-Table RoleName, GrantedPermissions, AllowedResourceScope, ScopeType, InScope
}
if ($OutsideMailbox) {
    Write-Host "Outsider $OutsideMailbox (expected InScope False):"
    Test-ServicePrincipalAuthorization -Identity $AppId -Resource $OutsideMailbox | Format-Table RoleName, GrantedPermissions, AllowedResourceScope, ScopeType, InScope
}
Write-Host 'Done. Now make sure Entra ID does not also grant Mail.ReadWrite tenant-wide: grant-graph-permissions.sh --mail-scope exchange.'
