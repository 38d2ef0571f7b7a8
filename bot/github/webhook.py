"""What gobot reads of GitHub's webhooks: the `deployment_protection_rule` event's payload (as
GitHub documents it, octokit/webhooks' payload schema), read into what the deploy gate is
asked (`DeploymentAsked`); everything else in the payload is ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from core.deployments import DeploymentAsked

PROTECTION_RULE = "deployment_protection_rule"


class _Part(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _User(_Part):
    login: str


class _Repository(_Part):
    full_name: str


class _Installation(_Part):
    id: int


class _Deployment(_Part):
    id: int | None = None
    sha: str
    ref: str | None = None
    creator: _User | None = None


class ProtectionRuleRequested(_Part):
    """A `deployment_protection_rule` event (action `requested`)."""

    action: str
    environment: str
    deployment_callback_url: str
    deployment: _Deployment
    installation: _Installation
    repository: _Repository
    sender: _User | None = None

    def asked(self, delivery: str) -> DeploymentAsked:
        creator = self.deployment.creator or self.sender
        return DeploymentAsked(
            delivery=delivery,
            repository=self.repository.full_name,
            environment=self.environment,
            sha=self.deployment.sha,
            ref=self.deployment.ref,
            creator=creator.login if creator else None,
            installation_id=self.installation.id,
            callback_url=self.deployment_callback_url,
            github_id=self.deployment.id,
        )
