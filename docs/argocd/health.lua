-- Argo CD health of a lowlatency.io/LowLatencyEndpoint.
-- A condition speaks for the generation in its observedGeneration only: a verdict about an older spec is stale.
local hs = {}

local function find_condition(status, condition_type)
  if status.conditions == nil then
    return nil
  end
  for _, condition in ipairs(status.conditions) do
    if condition.type == condition_type then
      return condition
    end
  end
  return nil
end

local function is_current(condition, generation, status)
  local observed = condition.observedGeneration
  if observed == nil then
    observed = status.observedGeneration
  end
  return generation == nil or observed == generation
end

local function nonempty(text)
  if text ~= nil and text ~= "" then
    return text
  end
  return nil
end

local function message_of(condition, fallback)
  if condition ~= nil then
    return nonempty(condition.message) or fallback
  end
  return fallback
end

local status = obj.status
local generation = obj.metadata.generation
if status == nil or status.phase == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to pick up the endpoint"
  return hs
end

local ready = find_condition(status, "Ready")
local degraded = find_condition(status, "Degraded")

if status.phase == "Failed" and (ready == nil or is_current(ready, generation, status)) then
  hs.status = "Degraded"
  hs.message = message_of(ready, nonempty(status.failureReason) or "The endpoint failed")
  return hs
end

if degraded ~= nil and degraded.status == "True" and is_current(degraded, generation, status) then
  hs.status = "Degraded"
  hs.message = message_of(degraded, "The last rollout failed; the previous configuration still serves")
  return hs
end

if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  local waiting = "Rolling out generation " .. tostring(generation)
  if status.observedGeneration ~= nil then
    waiting = waiting .. " (generation " .. tostring(status.observedGeneration) .. " is live)"
  end
  if ready ~= nil and is_current(ready, generation, status) then
    waiting = message_of(ready, waiting)
  end
  hs.message = waiting
  return hs
end

if status.phase == "Pending" or status.phase == "Creating" or status.phase == "Updating" or status.phase == "Deleting" then
  hs.status = "Progressing"
  hs.message = message_of(ready, "SageMaker endpoint is " .. status.phase)
  return hs
end

if ready ~= nil and ready.status == "True" and is_current(ready, generation, status) then
  hs.status = "Healthy"
  hs.message = message_of(ready, "SageMaker endpoint is " .. status.phase)
  return hs
end

hs.status = "Progressing"
hs.message = message_of(ready, "Waiting for the endpoint to become ready")
return hs
